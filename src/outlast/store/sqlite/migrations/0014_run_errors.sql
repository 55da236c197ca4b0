-- Failures grouped: one row per failed attempt, for the Errors page (SQLite).
--
-- A failed attempt (retried or not) writes one row when it is recorded; ``final`` = 1
-- when that failure ended the run (FAILED, CRASHED, TIMED_OUT, SYSTEM_FAILURE). The
-- ``fingerprint`` (core/fingerprints.py: task, error type and normalized message, hashed)
-- names the group, so the page is a GROUP BY over an index, never a read of error JSON.
-- ``message`` is a sample of the raw message; the full error stays on the attempt row.
-- Rows are not backfilled: failures recorded before this migration keep their error on
-- their attempt and run, and appear on the Errors page from the next failure on.

CREATE TABLE run_errors (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    error_type  TEXT NOT NULL,
    message     TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    final       INTEGER NOT NULL DEFAULT 0,
    version     TEXT,
    at          REAL NOT NULL
);
-- the page's windowed GROUP BY reads only this index (every column it needs is in it)
CREATE INDEX run_errors_window ON run_errors (environment, at, fingerprint, task_id, final, version);
-- one group: first and last seen, its latest occurrences, its runs
CREATE INDEX run_errors_group ON run_errors (environment, fingerprint, at, final, version, run_id);
CREATE INDEX run_errors_run ON run_errors (run_id);
