-- Runs that already started (resumed after a wait, retried, recovered from a lost worker)
-- are claimed ahead of fresh runs of their queue, oldest due first (engine/flow.py). They
-- are the queued runs with a started_at; these indexes hold only them, ordered by when
-- they became due, so a claim reads the due ones as a range and never steps over retries
-- whose backoff has not ended. Fresh runs keep the aged-priority indexes of 0006.

CREATE INDEX runs_claim_started ON runs (environment, queue, available_at, id)
    WHERE status = 'QUEUED' AND started_at IS NOT NULL;
CREATE INDEX runs_claim_any_started ON runs (environment, available_at, id)
    WHERE status = 'QUEUED' AND started_at IS NOT NULL;
CREATE INDEX runs_claim_keyed_started
    ON runs (environment, queue, concurrency_key COLLATE "C", available_at, id)
    WHERE status = 'QUEUED' AND started_at IS NOT NULL AND concurrency_key IS NOT NULL;
