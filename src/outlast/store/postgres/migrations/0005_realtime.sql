-- Realtime: stream chunks written by runs, server secrets, and the alert outbox (PostgreSQL).

CREATE TABLE run_stream_chunks (
    run_id      TEXT NOT NULL,
    key         TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    chunk       TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, key, seq)
);

CREATE TABLE server_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE alert_webhooks (
    environment TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE alert_outbox (
    id            BIGSERIAL PRIMARY KEY,
    environment   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    event_id      BIGINT NOT NULL,
    body          TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       DOUBLE PRECISION NOT NULL,
    delivered_at  DOUBLE PRECISION,
    last_error    TEXT,
    created_at    DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX alert_outbox_event ON alert_outbox (event_id);
CREATE INDEX alert_outbox_due ON alert_outbox (next_at) WHERE delivered_at IS NULL;

CREATE TABLE alert_cursor (
    name      TEXT PRIMARY KEY,
    event_id  BIGINT NOT NULL
);
