-- The runs list at a million runs (PostgreSQL): an index for each filter and sort it
-- offers, so each page reads about as many index entries as it shows. Every one ends in
-- the list's order (id, newest first: ids sort by creation time), so a filter answers from
-- the index in order and stops at the page's end instead of sorting every match.
--
-- queue, and task with one status (the common "FAILED runs of this task"); version
-- (pinned runs only); sort by start or finish (runs that started or finished only: the
-- others have no place in that order); idempotency-key prefix search, across tasks (the
-- unique index 0001 made leads with the task). A run's children and tree (the run page)
-- come in the same order from runs_parent and runs_root, now ending in the id.
--
-- The Versions page counts the unfinished runs pinned to each version: runs_version_active
-- holds only those (its WHERE is pinned_run_counts' own), where runs_version would have it
-- step over every finished run ever pinned.

-- Not (environment, queue, ...): SQLite's planner would take that one over the partial
-- indexes the claim's counts of queued and executing runs read (runs_claim, runs_executing).
CREATE INDEX runs_queue ON runs (queue, id DESC);
CREATE INDEX runs_env_task_status ON runs (environment, task_id, status, id DESC);
CREATE INDEX runs_env_version_id ON runs (environment, version, id DESC)
    WHERE version IS NOT NULL;
CREATE INDEX runs_env_started ON runs (environment, started_at DESC, id DESC)
    WHERE started_at IS NOT NULL;
CREATE INDEX runs_env_finished ON runs (environment, finished_at DESC, id DESC)
    WHERE finished_at IS NOT NULL;
CREATE INDEX runs_env_key_prefix ON runs (environment, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

DROP INDEX runs_parent;
CREATE INDEX runs_parent ON runs (parent_id, id DESC) WHERE parent_id IS NOT NULL;
DROP INDEX runs_root;
CREATE INDEX runs_root ON runs (root_id, id DESC) WHERE root_id IS NOT NULL;
CREATE INDEX runs_version_active ON runs (environment, version, status)
    WHERE version IS NOT NULL
      AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                         'EXPIRED', 'TIMED_OUT');
