-- Flow control: total caps, rate limits and operator overrides on queues; the rotation
-- cursor that serves concurrency keys in turn; the sliding-window start log behind rate
-- limits; an environment-wide limit; debounced triggers. The claim indexes now order by
-- aged priority: (available_at - priority * 60) means a priority point is worth a minute
-- of waiting, so low priority is never starved forever (engine/flow.py, AGING_SECONDS).

ALTER TABLE queues ADD COLUMN total_limit INTEGER;
ALTER TABLE queues ADD COLUMN rate_limit TEXT;
ALTER TABLE queues ADD COLUMN key_rate_limit TEXT;
-- what the code declares and what an operator set (JSON); the columns above and
-- concurrency_limit hold the merge of the two, which is what the claim reads
ALTER TABLE queues ADD COLUMN code_limits TEXT;
ALTER TABLE queues ADD COLUMN overrides TEXT;
ALTER TABLE queues ADD COLUMN key_cursor TEXT;

CREATE TABLE queue_starts (
    environment     TEXT NOT NULL,
    queue           TEXT NOT NULL,
    concurrency_key TEXT NOT NULL,
    at              DOUBLE PRECISION NOT NULL
);
CREATE INDEX queue_starts_window ON queue_starts (environment, queue, at);

CREATE TABLE environment_limits (
    environment       TEXT PRIMARY KEY,
    concurrency_limit INTEGER,
    updated_at        DOUBLE PRECISION NOT NULL
);

CREATE TABLE debounces (
    environment  TEXT NOT NULL,
    task_id      TEXT NOT NULL,
    key          TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    first_at     DOUBLE PRECISION NOT NULL,
    last_at      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (environment, task_id, key)
);

DROP INDEX runs_claim;
DROP INDEX runs_claim_any;
CREATE INDEX runs_claim ON runs (environment, queue, (available_at - priority * 60), id)
    WHERE status = 'QUEUED';
CREATE INDEX runs_claim_any ON runs (environment, (available_at - priority * 60), id)
    WHERE status = 'QUEUED';
CREATE INDEX runs_claim_keyed
    ON runs (environment, queue, concurrency_key COLLATE "C", (available_at - priority * 60), id)
    WHERE status = 'QUEUED' AND concurrency_key IS NOT NULL;
