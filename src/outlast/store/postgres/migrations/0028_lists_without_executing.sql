-- The runs list's indexes leave EXECUTING runs out (PostgreSQL).
--
-- No status change of a run is a HOT update, so each row version a run passes through
-- enters every index of runs whose WHERE holds for it (0024, 0026). The version a worker
-- writes when it starts a run entered the eight indexes below: 8 of the 25 index entries a
-- batch-triggered run cost in a worker's drain (bench/run_index_writes.py: queued 10,
-- started 13, completed 12; started 5 now). A run is EXECUTING only while a worker holds
-- it, so the EXECUTING runs of an environment are at most its workers' concurrency, and
-- runs_executing (0001: environment and queue, WHERE status = 'EXECUTING') holds exactly
-- those. A list or count that includes EXECUTING runs reads the others from these indexes
-- and the EXECUTING ones from runs_executing, and merges the two (engine/listing.py; the
-- dashboard's, the metrics' and retention's reads in postgres/queries.sql).
--
-- Every query that is to read one of these indexes says ``status <> 'EXECUTING'`` in its
-- own text: the planner uses a partial index only where the query implies its WHERE, and a
-- generic plan (a prepared statement after its fifth use) cannot prove that from a status
-- given as a parameter.
DROP INDEX runs_env_created;
CREATE INDEX runs_env_created ON runs (environment, id DESC) WHERE status <> 'EXECUTING';
DROP INDEX runs_env_created_at;
CREATE INDEX runs_env_created_at ON runs (environment, created_at)
    WHERE status <> 'EXECUTING';
DROP INDEX runs_env_status;
CREATE INDEX runs_env_status ON runs (environment, status, id DESC)
    WHERE status <> 'EXECUTING';
DROP INDEX runs_env_task;
CREATE INDEX runs_env_task ON runs (environment, task_id, id DESC)
    WHERE status <> 'EXECUTING';
DROP INDEX runs_env_task_status;
CREATE INDEX runs_env_task_status ON runs (environment, task_id, status, id DESC)
    WHERE status <> 'EXECUTING';
DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (queue, id DESC) WHERE status <> 'EXECUTING';
DROP INDEX runs_env_version_id;
CREATE INDEX runs_env_version_id ON runs (environment, version, id DESC)
    WHERE version IS NOT NULL AND status <> 'EXECUTING';
DROP INDEX runs_env_started;
CREATE INDEX runs_env_started ON runs (environment, started_at DESC, id DESC)
    WHERE started_at IS NOT NULL AND status <> 'EXECUTING';

-- The same for the unfinished runs pinned to a version (0013) and the runs of a batch
-- (0019): a started run of a versioned worker, or of a batch trigger, entered each too.
-- Their readers (pinned_run_counts, pinned_active_run, dev_runs_to_follow,
-- retention_batch_trees) read EXECUTING runs apart; the claim of a draining version's
-- runs asks for QUEUED ones, which the WHERE still holds.
DROP INDEX runs_version_active;
CREATE INDEX runs_version_active ON runs (environment, version, status)
    WHERE version IS NOT NULL
      AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                         'EXPIRED', 'TIMED_OUT')
      AND status <> 'EXECUTING';
DROP INDEX runs_batch;
CREATE INDEX runs_batch ON runs (batch_id) WHERE batch_id IS NOT NULL AND status <> 'EXECUTING';
