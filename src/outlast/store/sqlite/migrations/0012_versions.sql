-- Versions: the identity of the code a worker runs, and runs pinned to one (SQLite).
--
-- A version is current, draining or retired (``versions.state``); at most one is current
-- per environment. ``version_tasks`` holds the task definitions each version registered.
-- ``runs.version`` is the version a run is pinned to: set when its first attempt starts
-- (or at trigger time when asked); NULL until then. Every later attempt, resume and retry
-- is claimed only by a worker of that version. ``runs.parked`` says why a PARKED run
-- stopped (the replay mismatch, as JSON); NULL otherwise. ``workers.code_version`` is the
-- version of the code a worker runs (``workers.version`` stays Outlast's own version).

ALTER TABLE runs ADD COLUMN version TEXT;
ALTER TABLE runs ADD COLUMN parked TEXT;
ALTER TABLE workers ADD COLUMN code_version TEXT;

CREATE TABLE versions (
    environment TEXT NOT NULL,
    version     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('current', 'draining', 'retired')),
    source      TEXT NOT NULL,
    created_at  REAL NOT NULL,
    promoted_at REAL,
    retired_at  REAL,
    PRIMARY KEY (environment, version)
);
CREATE UNIQUE INDEX versions_current ON versions (environment) WHERE state = 'current';

CREATE TABLE version_tasks (
    environment TEXT NOT NULL,
    version     TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (environment, version, task_id)
);

CREATE INDEX runs_version ON runs (environment, version, status) WHERE version IS NOT NULL;
CREATE INDEX runs_parked ON runs (environment, id DESC) WHERE status = 'PARKED';
