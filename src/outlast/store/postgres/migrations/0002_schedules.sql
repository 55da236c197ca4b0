-- Outlast schema, version 2 (PostgreSQL): cron schedules and the ticks they fired or skipped.

-- One row per schedule. `source` is 'declarative' (from @schedules.task, kept in step with
-- the code each time a worker registers its tasks) or 'imperative' (created through the
-- API). `next_tick` is the next nominal fire time; the ticker moves it forward with a
-- compare-and-set on its old value, so two schedulers cannot both claim one tick.
CREATE TABLE schedules (
    id                TEXT PRIMARY KEY,
    environment       TEXT NOT NULL,
    task_id           TEXT NOT NULL,
    cron              TEXT NOT NULL,
    timezone          TEXT NOT NULL,
    external_id       TEXT,
    deduplication_key TEXT,
    source            TEXT NOT NULL,
    active            INTEGER NOT NULL DEFAULT 1,
    inactive_reason   TEXT,
    last_tick         DOUBLE PRECISION,
    next_tick         DOUBLE PRECISION,
    created_at        DOUBLE PRECISION NOT NULL,
    updated_at        DOUBLE PRECISION NOT NULL
);

CREATE UNIQUE INDEX schedules_dedup ON schedules (environment, deduplication_key)
    WHERE deduplication_key IS NOT NULL;
CREATE UNIQUE INDEX schedules_declarative ON schedules (environment, task_id)
    WHERE source = 'declarative';
CREATE INDEX schedules_due ON schedules (next_tick) WHERE active = 1;
CREATE INDEX schedules_env ON schedules (environment, id);

-- Every tick a schedule fired (status 'fired', with its run) or passed over after downtime
-- (status 'skipped'). The primary key is the last guard of exactly-once: a tick can be
-- recorded once, whichever server gets there first.
CREATE TABLE schedule_ticks (
    schedule_id TEXT NOT NULL,
    tick        DOUBLE PRECISION NOT NULL,
    status      TEXT NOT NULL,
    run_id      TEXT,
    skipped     INTEGER NOT NULL DEFAULT 0,
    recorded_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (schedule_id, tick)
);
