-- Retention (PostgreSQL): find the runs whose time is up without reading the others, delete
-- everything of theirs through an index, and record what upkeep last pruned.
--
-- ``runs_retention`` holds only finished top-level runs (a tree is reached from its root)
-- with no hook left to call, per task and status, ordered by the moment from which their
-- retention counts: when they finished, or when their idempotency key expires if later
-- (engine/retention.py). A scan for one (task, status) with a cutoff reads exactly the
-- runs whose time is up, oldest first.

CREATE INDEX runs_retention ON runs (environment, task_id, status,
    GREATEST(finished_at, coalesce(idempotency_expires_at, 0)), id)
    WHERE root_id IS NULL AND finished_at IS NOT NULL AND hook_pending IS NULL;
CREATE INDEX runs_batch ON runs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX waitpoints_created_by ON waitpoints (created_by_run)
    WHERE created_by_run IS NOT NULL;
CREATE INDEX alert_outbox_run ON alert_outbox (run_id);
CREATE INDEX schedule_ticks_run ON schedule_ticks (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX debounces_run ON debounces (run_id);

-- One row per environment: when upkeep last pruned it, how many runs that pass deleted,
-- and how many it has deleted in all.
CREATE TABLE retention_status (
    environment TEXT PRIMARY KEY,
    pruned_at   DOUBLE PRECISION NOT NULL,
    runs        BIGINT NOT NULL,
    total_runs  BIGINT NOT NULL
);
