-- Blobs (PostgreSQL's default blob store): payloads, outputs, step results and wait outputs
-- over the blob threshold, kept apart from the rows that reference them
-- (``{"$blob": key, "size": n}``). A value is cut into parts of at most 1 MiB, so no single
-- row or read is large; ``run_id`` is the owner, deleted with it by retention.
CREATE TABLE blobs (
    key         TEXT NOT NULL,
    part        INTEGER NOT NULL,
    run_id      TEXT NOT NULL,
    data        BYTEA NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (key, part)
);
CREATE INDEX blobs_run ON blobs (run_id);
