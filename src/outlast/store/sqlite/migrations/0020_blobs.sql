-- Blobs: the table PostgreSQL keeps large values in (SQLite keeps them in a directory
-- beside the database file by default; the table exists on both so the schemas match).
CREATE TABLE blobs (
    key         TEXT NOT NULL,
    part        INTEGER NOT NULL,
    run_id      TEXT NOT NULL,
    data        BLOB NOT NULL,
    created_at  REAL NOT NULL,
    PRIMARY KEY (key, part)
);
CREATE INDEX blobs_run ON blobs (run_id);
