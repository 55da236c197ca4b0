-- Indexes keyed by a time or id that only grows, and read by equality up to it, are kept
-- ascending (PostgreSQL).
--
-- A new run, start or finish carries the largest id or time yet. In a descending index
-- (``finished_at DESC``) each lands on the leftmost leaf of its range, which PostgreSQL
-- splits in half when full: the left half takes the next entries, the right half stays
-- half empty for good. In an ascending one it lands on the rightmost leaf, which is split
-- at the fill factor (90%), and an insert at the right edge of the whole index skips the
-- descent from the root. After a drain of 30,000 runs (bench/drain_interleaved.py
-- --sizes) runs_env_finished held 456 pages descending against 255 ascending, and
-- runs_queued, after loading them, 449 against 256.
--
-- Each of these is read with equality on every column before its last (or its last two:
-- a time, then id), so ``ORDER BY finished_at DESC, id DESC`` or ``ORDER BY id DESC``
-- reads it backward from the end of that range, and stops where the range does. The
-- runs list's indexes read in (environment, id) order stay descending: a page asks the
-- environment as a range (queries.sql, ``by_env_id``), so a status, task or queue after it
-- does not bound a scan, and only a forward scan from the start of their range stops
-- after a page.
DROP INDEX runs_env_finished;
CREATE INDEX runs_env_finished ON runs (environment, finished_at, id)
    WHERE finished_at IS NOT NULL;
DROP INDEX runs_env_started;
CREATE INDEX runs_env_started ON runs (environment, started_at, id)
    WHERE started_at IS NOT NULL AND status <> 'EXECUTING';
DROP INDEX runs_queued;
CREATE INDEX runs_queued ON runs (environment, task_id, queue, id) WHERE status = 'QUEUED';
DROP INDEX runs_parent;
CREATE INDEX runs_parent ON runs (parent_id, id) WHERE parent_id IS NOT NULL;
DROP INDEX runs_root;
CREATE INDEX runs_root ON runs (root_id, id) WHERE root_id IS NOT NULL;
DROP INDEX run_tags_tag;
CREATE INDEX run_tags_tag ON run_tags (environment, tag, run_id);
DROP INDEX waitpoints_list;
CREATE INDEX waitpoints_list ON waitpoints (environment, kind, status, id);
