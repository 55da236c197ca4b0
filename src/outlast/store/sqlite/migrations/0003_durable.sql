-- Durable execution: the run journal and waitpoints (SQLite).

CREATE TABLE run_journal (
    run_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    status        TEXT NOT NULL,
    result        TEXT,
    error         TEXT,
    created_at    REAL NOT NULL,
    completed_at  REAL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE waitpoints (
    id               TEXT PRIMARY KEY,
    environment      TEXT NOT NULL,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    run_id           TEXT,
    seq              INTEGER,
    idx              INTEGER NOT NULL DEFAULT 0,
    due_at           REAL,
    child_run_id     TEXT,
    secret           TEXT,
    tags             TEXT NOT NULL DEFAULT '[]',
    idempotency_key  TEXT,
    output           TEXT,
    error            TEXT,
    created_by_run   TEXT,
    created_at       REAL NOT NULL,
    completed_at     REAL
);

CREATE INDEX waitpoints_due ON waitpoints (due_at) WHERE status = 'PENDING' AND due_at IS NOT NULL;
CREATE INDEX waitpoints_blocking ON waitpoints (run_id, seq) WHERE run_id IS NOT NULL;
CREATE INDEX waitpoints_child ON waitpoints (child_run_id) WHERE child_run_id IS NOT NULL;
CREATE INDEX waitpoints_list ON waitpoints (environment, kind, status, id DESC);
CREATE UNIQUE INDEX waitpoints_idempotency ON waitpoints (environment, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
