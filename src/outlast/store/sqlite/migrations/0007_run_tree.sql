-- Finding a run's whole tree: runs.list(root_id=...) reads this index, as parent_id= reads
-- runs_parent. Partial: top-level runs (no root) never pay for it on insert.

CREATE INDEX runs_root ON runs (root_id) WHERE root_id IS NOT NULL;
