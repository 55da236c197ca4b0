-- Bulk actions: cancel or replay every run a filter lists (or a list of ids), in bounded
-- batches done by the upkeep holder, with progress and counts a caller can watch.
--
-- phase is snapshot while the runs matching the filter are copied into
-- bulk_action_items page by page (snapshot_cursor is the runs list's cursor), then
-- process while the items are acted on in run-id order: each batch's transaction acts
-- on its runs, deletes their items and moves cursor past them, so a holder that takes
-- over after a restart goes on from the first item left, and no run is acted on twice.
-- batches counts the batches written: each write is guarded on the count it read, so
-- a batch written by a holder that lost the lease meanwhile is rolled back, never doubled.

CREATE TABLE bulk_actions (
    id              TEXT PRIMARY KEY,
    environment     TEXT NOT NULL,
    action          TEXT NOT NULL,
    filter          TEXT,
    payload         TEXT,
    status          TEXT NOT NULL,
    phase           TEXT NOT NULL,
    snapshot_cursor TEXT,
    cursor          TEXT NOT NULL DEFAULT '',
    batches         INTEGER NOT NULL DEFAULT 0,
    total           INTEGER NOT NULL DEFAULT 0,
    processed       INTEGER NOT NULL DEFAULT 0,
    succeeded       INTEGER NOT NULL DEFAULT 0,
    skipped         INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    errors          TEXT NOT NULL DEFAULT '[]',
    message         TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    updated_at      REAL NOT NULL,
    finished_at     REAL
);
CREATE INDEX bulk_actions_environment ON bulk_actions (environment, id);
CREATE INDEX bulk_actions_active ON bulk_actions (id) WHERE status IN ('PENDING', 'RUNNING');

CREATE TABLE bulk_action_items (
    bulk_action_id TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    PRIMARY KEY (bulk_action_id, run_id)
);
