-- Outlast schema, version 1 (SQLite). Times are REAL seconds since the epoch.

CREATE TABLE runs (
    id                  TEXT PRIMARY KEY,
    environment         TEXT NOT NULL,
    task_id             TEXT NOT NULL,
    queue               TEXT NOT NULL,
    status              TEXT NOT NULL,
    payload             TEXT NOT NULL,
    output              TEXT,
    error               TEXT,
    priority            INTEGER NOT NULL DEFAULT 0,
    concurrency_key     TEXT,
    tags                TEXT NOT NULL DEFAULT '[]',
    metadata            TEXT NOT NULL DEFAULT '{}',
    idempotency_key     TEXT,
    idempotency_expires_at REAL,
    attempt_count       INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL,
    retry               TEXT NOT NULL,
    machine             TEXT NOT NULL,
    max_duration        REAL,
    ttl                 REAL,
    available_at        REAL NOT NULL,
    expires_at          REAL,
    lease_id            TEXT,
    lease_expires_at    REAL,
    worker_id           TEXT,
    parent_id           TEXT,
    root_id             TEXT,
    batch_id            TEXT,
    replayed_from       TEXT,
    hook_pending        TEXT,
    hook_lease          TEXT,
    execution_seconds   REAL NOT NULL DEFAULT 0,
    cost                REAL NOT NULL DEFAULT 0,
    created_at          REAL NOT NULL,
    queued_at           REAL,
    started_at          REAL,
    finished_at         REAL,
    updated_at          REAL NOT NULL
);

CREATE INDEX runs_claim ON runs (environment, queue, priority DESC, available_at, id)
    WHERE status = 'QUEUED';
CREATE INDEX runs_claim_any ON runs (environment, priority DESC, available_at, id)
    WHERE status = 'QUEUED';
CREATE INDEX runs_executing ON runs (environment, queue) WHERE status = 'EXECUTING';
CREATE INDEX runs_hooks ON runs (environment, queue) WHERE hook_pending IS NOT NULL;
CREATE INDEX runs_delayed ON runs (available_at) WHERE status = 'DELAYED';
CREATE INDEX runs_expiring ON runs (expires_at) WHERE status IN ('QUEUED', 'DELAYED') AND expires_at IS NOT NULL;
CREATE INDEX runs_leases ON runs (lease_expires_at) WHERE status = 'EXECUTING';
CREATE INDEX runs_env_created ON runs (environment, id DESC);
CREATE INDEX runs_env_task ON runs (environment, task_id, id DESC);
CREATE INDEX runs_env_status ON runs (environment, status, id DESC);
CREATE INDEX runs_parent ON runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE UNIQUE INDEX runs_idempotency ON runs (environment, task_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE run_tags (
    run_id      TEXT NOT NULL,
    environment TEXT NOT NULL,
    tag         TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
);
CREATE INDEX run_tags_tag ON run_tags (environment, tag, run_id DESC);

CREATE TABLE run_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    at          REAL NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT,
    attempt     INTEGER,
    data        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX run_events_run ON run_events (run_id, id);

CREATE TABLE attempts (
    run_id      TEXT NOT NULL,
    number      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    lease_id    TEXT NOT NULL,
    worker_id   TEXT,
    machine     TEXT NOT NULL,
    started_at  REAL NOT NULL,
    finished_at REAL,
    error       TEXT,
    PRIMARY KEY (run_id, number)
);

CREATE TABLE run_logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    at          REAL NOT NULL,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    attributes  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX run_logs_run ON run_logs (run_id, id);

CREATE TABLE tasks (
    environment TEXT NOT NULL,
    id          TEXT NOT NULL,
    queue       TEXT NOT NULL,
    definition  TEXT NOT NULL,
    updated_at  REAL NOT NULL,
    PRIMARY KEY (environment, id)
);

CREATE TABLE queues (
    environment       TEXT NOT NULL,
    name              TEXT NOT NULL,
    concurrency_limit INTEGER,
    paused            INTEGER NOT NULL DEFAULT 0,
    updated_at        REAL NOT NULL,
    PRIMARY KEY (environment, name)
);

CREATE TABLE workers (
    id            TEXT PRIMARY KEY,
    environment   TEXT NOT NULL,
    hostname      TEXT NOT NULL,
    pid           INTEGER NOT NULL,
    version       TEXT NOT NULL,
    queues        TEXT NOT NULL,
    concurrency   INTEGER NOT NULL,
    started_at    REAL NOT NULL,
    heartbeat_at  REAL NOT NULL,
    stopped_at    REAL
);

CREATE TABLE api_keys (
    id          TEXT PRIMARY KEY,
    environment TEXT NOT NULL,
    key_hash    TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    revoked_at  REAL
);

CREATE TABLE leader_leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  REAL NOT NULL
);
