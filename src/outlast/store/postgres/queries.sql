-- PostgreSQL's own versions of the named queries whose text differs from ../queries.sql.
-- Lists arrive as arrays.

-- name: get_runs
SELECT * FROM runs WHERE id = ANY(:ids::text[])

-- name: insert_runs
-- New runs, with their ``created`` events, their tags and the transaction's notifications,
-- in one statement however many runs there are: :rows is a JSON array of ``runs`` rows
-- (``engine/triggering.build_row``), read with the table's own column types; :notify is
-- filled in by the store (``postgres/outbox.py``): [channel, payload] pairs. A trigger is
-- then this one statement, and a batch of 1,000 parses one value instead of binding 2,000
-- rows (``Tx.compound_writes``). Only runs without an idempotency key come here: their
-- fresh ids cannot conflict. Tags need no DISTINCT (a run's are distinct already, and ON
-- CONFLICT skips a repeat): with it, every trigger, tagged or not, paid for a hash table
-- sized for the planner's guess of 10,000 tags. The tags' part is sent only when a run has
-- tags (:tagged): with no row to insert it still cost a trigger 2 to 5 us of the server's
-- time, 2 to 3% of the statement (``bench/insert_runs_shapes.py``). One run (a single
-- trigger) comes as its columns' values instead of :rows: the server reads a few texts
-- rather than parsing a JSON value into a record, and the client writes no JSON
-- (``bench/insert_runs_shapes.py``: 10 to 15% of the statement's time).
WITH new AS (
    SELECT * FROM json_populate_recordset(NULL::runs, :rows::json)     -- when rows
    SELECT :id::text AS id, :environment::text AS environment,          -- unless rows
        :task_id::text AS task_id, :queue::text AS queue,               -- unless rows
        :status::text AS status, :payload::text AS payload,             -- unless rows
        :priority::integer AS priority,                                 -- unless rows
        :concurrency_key::text AS concurrency_key, :tags::text AS tags, -- unless rows
        :metadata::text AS metadata,                                    -- unless rows
        :idempotency_key::text AS idempotency_key,                      -- unless rows
        :idempotency_expires_at::float8 AS idempotency_expires_at,      -- unless rows
        :max_attempts::integer AS max_attempts, :retry::text AS retry,  -- unless rows
        :machine::text AS machine,                                      -- unless rows
        :max_duration::float8 AS max_duration, :ttl::float8 AS ttl,     -- unless rows
        :available_at::float8 AS available_at,                          -- unless rows
        :expires_at::float8 AS expires_at, :parent_id::text AS parent_id, -- unless rows
        :root_id::text AS root_id, :batch_id::text AS batch_id,         -- unless rows
        :replayed_from::text AS replayed_from,                          -- unless rows
        :version::text AS version, :traceparent::text AS traceparent,   -- unless rows
        :created_at::float8 AS created_at, :queued_at::float8 AS queued_at -- unless rows
), inserted AS (
    INSERT INTO runs (id, environment, task_id, queue, status, payload, priority,
        concurrency_key, tags, metadata, idempotency_key, idempotency_expires_at, max_attempts,
        retry, machine, max_duration, ttl, available_at, expires_at, parent_id, root_id,
        batch_id, replayed_from, version, traceparent, created_at, queued_at, updated_at)
    SELECT id, environment, task_id, queue, status, payload, priority,
        concurrency_key, tags, metadata, idempotency_key, idempotency_expires_at, max_attempts,
        retry, machine, max_duration, ttl, available_at, expires_at, parent_id, root_id,
        batch_id, replayed_from, version, traceparent, created_at, queued_at, created_at
    FROM new
), events AS (
    INSERT INTO run_events (run_id, at, kind, status, attempt, data)
    SELECT id, created_at, 'created', status, NULL, '{}' FROM new
), tags AS (                                                        -- when tagged
    INSERT INTO run_tags (run_id, environment, tag)                     -- when tagged
    SELECT new.id, new.environment, tag.value                           -- when tagged
    FROM new, json_array_elements_text(new.tags::json) AS tag(value)    -- when tagged
    WHERE new.tags <> '[]'                                              -- when tagged
    ON CONFLICT DO NOTHING                                              -- when tagged
)
SELECT pg_notify(n ->> 0, n ->> 1) FROM json_array_elements(:notify::json) AS n

-- name: load_runs
-- New runs in bulk (``engine/triggering.py``, a batch of ``LOAD_FROM`` runs or more):
-- ``COPY`` streams them, each row the values of these columns by name (``Tx.load``). Only
-- runs without an idempotency key come here: their fresh ids cannot conflict, so no
-- ``ON CONFLICT`` is needed (``COPY`` has none). Their ``created`` events and tags follow
-- in ``insert_created_events`` and ``insert_new_run_tags`` (``created_event``: the load's
-- shared one, ``next_event_id``). Text, not binary: the server
-- inserts a text ``COPY``'s rows every 64 kB as they arrive, while the client makes the
-- next ones, but holds a binary one's until it has 1,000 (a whole batch) or the end. The
-- first two columns are each run's own; the text of the others is written once for the
-- runs that repeat them, a batch's runs all but their ids and payloads (``CopyIn``).
COPY runs (id, payload, environment, task_id, queue, status, priority, concurrency_key,
    tags, metadata, idempotency_key, idempotency_expires_at, max_attempts, retry, machine,
    max_duration, ttl, available_at, expires_at, parent_id, root_id, batch_id, replayed_from,
    version, traceparent, created_at, queued_at, updated_at, created_event) FROM STDIN

-- name: next_event_id
-- The id of a bulk load's shared ``created`` event (0033), taken before its runs are
-- made: each of them holds it, and every later event of theirs has a larger id.
SELECT nextval(pg_get_serial_sequence('run_events', 'id')) AS id

-- name: insert_created_events
-- The ``created`` events of runs loaded in bulk (``load_runs``): ids and statuses as two
-- arrays. Of the runs that share the load's event, only the first is among them (0033).
-- One statement that waits for no answer (it travels with the commit), where a ``COPY``
-- would wait for the server twice. It sends the transaction's notifications so far
-- (:notify, filled in by the store): the runs' own, the last statement but COMMIT.
WITH events AS (
    INSERT INTO run_events (run_id, at, kind, status, attempt, data)
    SELECT t.id, :at, 'created', t.status, NULL, '{}'
    FROM unnest(:ids::text[], :statuses::text[]) AS t(id, status)
)
SELECT pg_notify(n ->> 0, n ->> 1) FROM json_array_elements(:notify::json) AS n

-- name: insert_new_run_tags
-- The tags of runs loaded in bulk, as ``insert_created_events``: (run id, tag) pairs as two
-- arrays.
INSERT INTO run_tags (run_id, environment, tag)
SELECT t.run_id, :environment, t.tag FROM unnest(:run_ids::text[], :tags::text[]) AS t(run_id, tag)
ON CONFLICT DO NOTHING

-- part: claim_started
-- How claim_unlimited and claim_unlimited_in end, once they have ``picked`` the runs: the
-- runs started, their attempts and start events written, their realtime notes sent.
), started AS (
    -- the picked rows, found again by the row versions their picking locked: a TID scan,
    -- no index and no plan to go wrong whatever ANALYZE has counted (``id IN (picked)``
    -- hashed picked against a sequential scan of every runs row once it had)
    UPDATE runs SET status = 'EXECUTING', attempt_count = attempt_count + 1,
        lease_id = :lease_id, lease_expires_at = :lease_expires_at, worker_id = :worker_id,
        started_at = coalesce(started_at, :now), version = coalesce(version, :version),
        updated_at = :now
    WHERE status = 'QUEUED' AND ctid = ANY(ARRAY(TABLE picked))
    RETURNING
-- include: claimed_columns
), new_attempts AS (
    -- as insert_attempt: a handed-back attempt gave its number back; this start takes it
    INSERT INTO attempts (run_id, number, status, lease_id, worker_id, machine, started_at)
    SELECT id, attempt_count, 'EXECUTING', :lease_id, :worker_id, machine, :now FROM started
    ON CONFLICT (run_id, number) DO UPDATE SET status = 'EXECUTING',
        lease_id = excluded.lease_id, worker_id = excluded.worker_id,
        machine = excluded.machine, started_at = excluded.started_at, finished_at = NULL,
        error = NULL
), new_events AS (
    INSERT INTO run_events (run_id, at, kind, status, attempt, data)
    -- in claim order: a run started before this claim has an earlier started_at
    SELECT id, :now, 'start_attempt', 'EXECUTING', attempt_count, :start_data FROM started
    ORDER BY started_at = :now,
        CASE WHEN started_at = :now THEN available_at - priority * 60 ELSE available_at END, id
), noted AS (
    -- each started run's realtime note (``Tx.notified``), and a lazy commit's setting
    -- (``Tx.lazy_commit``): the statement is then all its transaction needs, sent alone
    -- and committed as it ends (``Tx.alone``), one round trip
    SELECT (SELECT count(*) FROM limited) AS limited_queues,
        count(pg_notify(:changed_channel, id)),
        CASE WHEN :lazy THEN set_config('synchronous_commit', 'off', true) END
    FROM started
)
SELECT started.*, limited_queues FROM noted LEFT JOIN started ON true

-- name: claim_unlimited
-- The common case in one statement: when none of the queues a worker takes from is paused
-- or has a limit (concurrency, total or rate) and the environment has no limit, nothing
-- needs counting, so candidates are locked and started at once. This one takes from every
-- queue; claim_unlimited_in from a named list. Order (engine/flow.py, claim_rank): runs
-- that already started, oldest due first (runs_claim_any_started), then fresh runs by aged
-- priority, (available_at - priority * 60) ascending (runs_claim_any). The UNION ALL reads
-- the fresh half (and locks its rows) only when the started half left room under the
-- LIMIT. ``limited_queues`` > 0 means this statement claimed nothing on purpose and the
-- caller must take the counting path; the row with a NULL id is only there to carry that
-- count. Each started run's attempt row and ``start_attempt`` event are written here too
-- (``Tx.compound_writes``): one statement per claim, however many runs it starts, instead of
-- two more batches from the worker.
WITH limited AS (
    SELECT name FROM queues
    WHERE environment = :environment
      AND (paused = 1 OR num_nonnulls(concurrency_limit, total_limit, rate_limit,
                                      key_rate_limit) > 0)
    UNION ALL
    SELECT '*' FROM environment_limits
    WHERE environment = :environment AND concurrency_limit IS NOT NULL
), fresh_tasks AS (
    -- The tasks whose unpinned runs this worker takes (core/versions.py, fresh_tasks): its
    -- own, less those the current version has when it is another one; none once its own
    -- version is retired. Read here, in the claim, so a promotion counts from the next
    -- claim on; two small primary-key reads, evaluated once per statement (an InitPlan).
    SELECT coalesce(array_agg(t.task_id), '{}') AS tasks FROM unnest(:tasks::text[]) AS t(task_id)
    WHERE NOT EXISTS (
        SELECT 1 FROM versions
        WHERE environment = :environment AND version = :version AND state = 'retired')
      AND NOT EXISTS (
        SELECT 1 FROM versions JOIN version_tasks USING (environment, version)
        WHERE environment = :environment AND state = 'current'
          AND version <> :version AND task_id = t.task_id)
), picked AS (
    SELECT * FROM (
        SELECT ctid FROM runs
        WHERE NOT EXISTS (SELECT 1 FROM limited)
          AND environment = :environment AND status = 'QUEUED' AND started_at IS NOT NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
               OR (version IS NULL AND task_id = ANY((TABLE fresh_tasks)::text[])))
        ORDER BY available_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED) AS resumed
    UNION ALL
    SELECT * FROM (
        SELECT ctid FROM runs
        WHERE NOT EXISTS (SELECT 1 FROM limited)
          AND environment = :environment AND status = 'QUEUED' AND started_at IS NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version::text IS NULL
               OR cardinality((TABLE fresh_tasks)::text[]) > 0)
          AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
               OR (version IS NULL AND task_id = ANY((TABLE fresh_tasks)::text[])))
        ORDER BY (available_at - priority * 60), id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED) AS fresh
    UNION ALL
    -- instead of the fresh half when this worker takes no unpinned runs (a draining
    -- version whose tasks the current one has): only runs pinned to it, read through
    -- runs_version_active rather than by stepping over the whole queue of others' runs
    SELECT * FROM (
        SELECT ctid FROM runs
        WHERE NOT EXISTS (SELECT 1 FROM limited)
          AND cardinality((TABLE fresh_tasks)::text[]) = 0
          AND environment = :environment AND version = :version::text AND status = 'QUEUED'
          AND started_at IS NULL AND task_id = ANY(:tasks)
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
        ORDER BY (available_at - priority * 60), id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED) AS pinned
    LIMIT :limit
-- include: claim_started

-- name: claim_unlimited_in
-- claim_unlimited for a named list of queues: each queue is read through its own indexes
-- (runs_claim_started, then runs_claim), so runs queued in other queues never sit in
-- front; the queues' heads then go in claim order (started runs first). The version
-- filter's lines are sent only with a version (``-- when version``), rather than written
-- ``:version IS NULL OR …``: each shape stays under the 4 KB psycopg caches its parse of,
-- which the worker's (with a version) was not once the claim named its columns.
WITH limited AS (
    SELECT name FROM queues
    WHERE environment = :environment
      AND (paused = 1 OR num_nonnulls(concurrency_limit, total_limit, rate_limit,
                                      key_rate_limit) > 0)
      AND name = ANY(:queues::text[])
    UNION ALL
    SELECT '*' FROM environment_limits
    WHERE environment = :environment AND concurrency_limit IS NOT NULL
), fresh_tasks AS (
    -- The tasks whose unpinned runs this worker takes (core/versions.py, fresh_tasks): its
    -- own, less those the current version has when it is another one; none once its own
    -- version is retired. Read here, in the claim, so a promotion counts from the next
    -- claim on; two small primary-key reads, evaluated once per statement (an InitPlan).
    SELECT coalesce(array_agg(t.task_id), '{}') AS tasks FROM unnest(:tasks::text[]) AS t(task_id)
    WHERE NOT EXISTS (
        SELECT 1 FROM versions
        WHERE environment = :environment AND version = :version AND state = 'retired')
      AND NOT EXISTS (
        SELECT 1 FROM versions JOIN version_tasks USING (environment, version)
        WHERE environment = :environment AND state = 'current'
          AND version <> :version AND task_id = t.task_id)
), picked AS (
    SELECT c.ctid FROM unnest(:queues::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT * FROM (
            SELECT ctid, id, 0 AS tier, available_at AS score FROM runs
            WHERE environment = :environment AND queue = q.name AND status = 'QUEUED'
              AND started_at IS NOT NULL
              AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
              AND ((version = :version AND task_id = ANY(:tasks))                 -- when version
                   OR (version IS NULL AND task_id = ANY((TABLE fresh_tasks)::text[]))) -- when version
            ORDER BY available_at, id
            LIMIT :limit
            FOR UPDATE SKIP LOCKED) AS resumed
        UNION ALL
        SELECT * FROM (
            SELECT ctid, id, 1 AS tier, (available_at - priority * 60) AS score FROM runs
            WHERE environment = :environment AND queue = q.name AND status = 'QUEUED'
              AND started_at IS NULL
              AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
              AND cardinality((TABLE fresh_tasks)::text[]) > 0                    -- when version
              AND ((version = :version AND task_id = ANY(:tasks))                 -- when version
                   OR (version IS NULL AND task_id = ANY((TABLE fresh_tasks)::text[]))) -- when version
            ORDER BY (available_at - priority * 60), id
            LIMIT :limit
            FOR UPDATE SKIP LOCKED) AS fresh
        -- as in claim_unlimited: no unpinned runs to take, only pinned ones
        UNION ALL                                                                       -- when version
        SELECT * FROM (                                                                 -- when version
            SELECT ctid, id, 1 AS tier, (available_at - priority * 60) AS score FROM runs -- when version
            WHERE cardinality((TABLE fresh_tasks)::text[]) = 0                          -- when version
              AND environment = :environment AND version = :version                     -- when version
              AND status = 'QUEUED' AND queue = q.name AND started_at IS NULL           -- when version
              AND task_id = ANY(:tasks)                                                 -- when version
              AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)    -- when version
            ORDER BY (available_at - priority * 60), id                                 -- when version
            LIMIT :limit                                                                -- when version
            FOR UPDATE SKIP LOCKED) AS pinned                                           -- when version
        LIMIT :limit) AS c
    WHERE NOT EXISTS (SELECT 1 FROM limited)  -- a one-time filter: no queue read if limited
    ORDER BY c.tier, c.score, c.id
    LIMIT :limit
-- include: claim_started

-- name: lock_flow_queues
-- The controlled queues a claim may take from, locked in name order (so two claimers
-- never deadlock) before their running runs and recent starts are counted: no other
-- claimer can see the same free slot or the same rate budget until this one commits.
SELECT name, paused, concurrency_limit, total_limit, rate_limit, key_rate_limit, key_cursor
FROM queues
WHERE environment = :environment
  AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
       OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL)
  AND (:queues::text[] IS NULL OR name = ANY(:queues::text[]))
ORDER BY name
FOR UPDATE

-- name: lock_environment_limit
SELECT concurrency_limit FROM environment_limits
WHERE environment = :environment
FOR UPDATE

-- name: queue_candidates
-- The head of one controlled queue in claim order: runs that already started, oldest due
-- first, then fresh runs by aged priority (read as in claim_unlimited).
SELECT * FROM (
    SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
    WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
      AND started_at IS NOT NULL
      AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
    ORDER BY available_at, id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED) AS resumed
UNION ALL
SELECT * FROM (
    SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
    WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
      AND started_at IS NULL
      AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
    ORDER BY (available_at - priority * 60), id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED) AS fresh
LIMIT :limit

-- name: key_heads
-- The first run of each of the next :limit concurrency keys after :after (in byte order),
-- found by a skip scan over runs_claim_keyed: one index probe per key, however many runs
-- each key has queued, so 50,000 runs of one key cost nothing to step over. A key's first
-- run is its oldest due started run if it has one (runs_claim_keyed_started), else its
-- best fresh run.
WITH RECURSIVE keys(k, n) AS (
    (SELECT concurrency_key COLLATE "C", 1 FROM runs
     WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
       AND concurrency_key IS NOT NULL AND concurrency_key COLLATE "C" > :after
     ORDER BY concurrency_key COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT r.concurrency_key COLLATE "C" FROM runs r
            WHERE r.environment = :environment AND r.queue = :queue AND r.status = 'QUEUED'
              AND r.concurrency_key IS NOT NULL AND r.concurrency_key COLLATE "C" > keys.k
            ORDER BY r.concurrency_key COLLATE "C" LIMIT 1), keys.n + 1
    FROM keys WHERE keys.k IS NOT NULL AND keys.n < :limit
)
SELECT c.* FROM keys
CROSS JOIN LATERAL (
    SELECT * FROM (
        SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
        WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
          AND concurrency_key IS NOT NULL AND concurrency_key COLLATE "C" = keys.k
          AND started_at IS NOT NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
        ORDER BY available_at, id
        LIMIT 1
        FOR UPDATE SKIP LOCKED) AS resumed
    UNION ALL
    SELECT * FROM (
        SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
        WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
          AND concurrency_key IS NOT NULL AND concurrency_key COLLATE "C" = keys.k
          AND started_at IS NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
        ORDER BY (available_at - priority * 60), id
        LIMIT 1
        FOR UPDATE SKIP LOCKED) AS fresh
    LIMIT 1) AS c
WHERE keys.k IS NOT NULL

-- name: other_candidates
-- Runs of the queues nothing controls, when the counting path runs for another reason:
-- the queues holding queued runs are found by a skip scan over runs_claim (one probe per
-- queue), so a controlled queue's backlog is never read row by row. Each queue's head is
-- read in claim order as in claim_unlimited.
WITH RECURSIVE qs(name) AS (
    (SELECT queue FROM runs WHERE environment = :environment AND status = 'QUEUED'
     ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT r.queue FROM runs r
            WHERE r.environment = :environment AND r.status = 'QUEUED' AND r.queue > qs.name
            ORDER BY r.queue LIMIT 1)
    FROM qs WHERE qs.name IS NOT NULL
)
SELECT c.id, c.queue, c.concurrency_key, c.priority, c.available_at, c.started_at FROM qs
CROSS JOIN LATERAL (
    SELECT * FROM (
        SELECT id, queue, concurrency_key, priority, available_at, started_at, 0 AS tier,
               available_at AS score FROM runs
        WHERE environment = :environment AND queue = qs.name AND status = 'QUEUED'
          AND started_at IS NOT NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
        ORDER BY available_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED) AS resumed
    UNION ALL
    SELECT * FROM (
        SELECT id, queue, concurrency_key, priority, available_at, started_at, 1 AS tier,
               (available_at - priority * 60) AS score FROM runs
        WHERE environment = :environment AND queue = qs.name AND status = 'QUEUED'
          AND started_at IS NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
      AND (:version::text IS NULL OR (version = :version AND task_id = ANY(:tasks))
           OR (version IS NULL AND task_id = ANY(:fresh)))
        ORDER BY (available_at - priority * 60), id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED) AS fresh
    LIMIT :limit) AS c
WHERE qs.name IS NOT NULL AND (:queues::text[] IS NULL OR qs.name = ANY(:queues::text[]))
  AND qs.name <> ALL(:controlled)
ORDER BY c.tier, c.score, c.id
LIMIT :limit

-- name: executing_key_counts
SELECT queue, concurrency_key, count(*) AS running FROM runs
WHERE environment = :environment AND status = 'EXECUTING' AND concurrency_key IS NOT NULL
  AND queue = ANY(:names::text[])
GROUP BY queue, concurrency_key

-- name: executing_counts
SELECT queue, count(*) AS running FROM runs
WHERE environment = :environment AND status = 'EXECUTING'
  AND queue = ANY(:names::text[])
GROUP BY queue

-- name: start_runs
UPDATE runs SET status = 'EXECUTING', attempt_count = attempt_count + 1, lease_id = :lease_id,
    lease_expires_at = :lease_expires_at, worker_id = :worker_id,
    started_at = coalesce(started_at, :now), version = coalesce(version, :version),
    updated_at = :now
WHERE id = ANY(:ids::text[]) AND status = 'QUEUED'
RETURNING concurrency_key,  -- for the starts a rate counts (engine/dequeue.py)
-- include: claimed_columns

-- name: heartbeat_runs
UPDATE runs SET lease_expires_at = :lease_expires_at
WHERE worker_id = :worker_id AND status = 'EXECUTING'
  AND id = ANY(:ids::text[])
RETURNING id, lease_id

-- name: lapsed_leases
SELECT * FROM runs
WHERE status = 'EXECUTING' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT :limit
FOR UPDATE SKIP LOCKED

-- name: end_waiting_run
UPDATE runs SET status = :status, error = :error, finished_at = :now, hook_pending = :hook_pending,
    lease_id = NULL, lease_expires_at = NULL, parked = NULL, updated_at = :now
WHERE id = :id AND status = ANY(:from_statuses::text[])

-- name: list_api_keys
SELECT id, environment, scope, prefix, created_at, revoked_at FROM api_keys
WHERE (:environment::text IS NULL OR environment = :environment) ORDER BY created_at

-- name: claim_hooks
UPDATE runs SET hook_lease = :lease_id, updated_at = :now
WHERE id IN (
    SELECT id FROM runs WHERE environment = :environment AND hook_pending IS NOT NULL
      AND hook_lease IS NULL
      AND (:queues::text[] IS NULL OR queue = ANY(:queues::text[]))
      AND (:tasks::text[] IS NULL OR task_id = ANY(:tasks))
    LIMIT :limit FOR UPDATE SKIP LOCKED)
RETURNING *

-- schedules ------------------------------------------------------------------------------
-- Cron schedules (engine/schedules.py) and their fired or skipped ticks (engine/ticks.py).

-- name: lock_schedule
SELECT * FROM schedules WHERE id = :id FOR UPDATE

-- name: find_schedule_by_dedup
SELECT * FROM schedules
WHERE environment = :environment AND deduplication_key = :deduplication_key FOR UPDATE

-- name: list_declarative_schedules
SELECT * FROM schedules WHERE environment = :environment AND source = 'declarative'
ORDER BY id FOR UPDATE

-- name: list_schedules
SELECT * FROM schedules
WHERE environment = :environment
  AND (:task_id::text IS NULL OR task_id = :task_id)
  AND (:cursor::text IS NULL OR id > :cursor)
ORDER BY id LIMIT :limit

-- durable execution ----------------------------------------------------------------------

-- name: lock_run_lease
SELECT * FROM runs WHERE id = :id AND lease_id = :lease_id AND status = 'EXECUTING'
FOR UPDATE

-- name: lock_run_leases
SELECT id, lease_id FROM runs WHERE id = ANY(:ids::text[]) AND status = 'EXECUTING'
ORDER BY id
FOR UPDATE

-- name: lock_run
SELECT * FROM runs WHERE id = :id
FOR UPDATE

-- name: insert_journal
INSERT INTO run_journal (run_id, seq, kind, name, status, result, error, created_at, completed_at)
VALUES (:run_id, :seq, :kind, :name, :status, :result, :error, :started,
    CASE WHEN :status::text = 'pending' THEN NULL ELSE :now END)

-- name: list_journals
SELECT * FROM run_journal WHERE run_id = ANY(:ids::text[]) ORDER BY run_id, seq

-- name: get_waitpoint
SELECT * FROM waitpoints WHERE id = :id
FOR UPDATE

-- name: due_waitpoints
SELECT id, kind FROM waitpoints
WHERE status = 'PENDING' AND due_at IS NOT NULL AND due_at <= :now
ORDER BY due_at LIMIT :limit
FOR UPDATE SKIP LOCKED

-- name: complete_due_sleeps
-- Due time waitpoints, all at once (``waitpoints.wake_sleeps``); rows locked by due_waitpoints.
UPDATE waitpoints SET status = 'COMPLETED', output = :output, error = NULL, completed_at = :now
WHERE id = ANY(:ids::text[]) AND kind = 'time' AND status = 'PENDING'
RETURNING run_id, seq, due_at

-- name: lock_runs
SELECT id FROM runs WHERE id = ANY(:ids::text[]) ORDER BY id FOR UPDATE

-- name: resume_settled_runs
UPDATE runs SET status = 'QUEUED', available_at = :now, queued_at = :now, updated_at = :now
WHERE id = ANY(:ids::text[]) AND status = 'WAITING'
  AND NOT EXISTS (SELECT 1 FROM run_journal j WHERE j.run_id = runs.id AND j.status = 'pending')
RETURNING id, queue

-- name: list_tokens
SELECT * FROM waitpoints
WHERE environment = :environment AND kind = 'token'
  AND (:status::text IS NULL OR status = :status)
  AND (:tag::text IS NULL OR jsonb_exists(waitpoints.tags::jsonb, :tag))
  AND (:run_id::text IS NULL OR created_by_run = :run_id OR run_id = :run_id)
  AND (:cursor::text IS NULL OR id < :cursor)
ORDER BY id DESC
LIMIT :limit

-- realtime ----------------------------------------------------------------------------
-- metadata, stream chunks, subscriptions, key management, public-token secrets, alerts

-- name: lock_queue
SELECT * FROM queues WHERE environment = :environment AND name = :name FOR UPDATE

-- name: lock_version
SELECT * FROM versions WHERE environment = :environment AND version = :version FOR UPDATE

-- name: lock_debounce
SELECT * FROM debounces WHERE environment = :environment AND task_id = :task_id AND key = :key
FOR UPDATE

-- record path

-- name: complete_runs_logged
-- Many completed attempts in one statement, each row still guarded by its own lease: a run
-- whose lease moved on (canceled, recovered) is not written and its id is missing from
-- the answer, so the caller knows exactly which outcomes were stale. The attempt rows and
-- the ``complete`` events of the runs it really completed are written by the same
-- statement (``Tx.compound_writes``): nothing is left for the caller to write.
WITH d AS (
    SELECT * FROM unnest(:ids::text[], :lease_ids::text[], :outputs::text[],
                         :executed::float8[], :costs::float8[], :attempts::int[])
        AS d(run_id, lease, new_output, ran, priced, number)
), done AS (
    UPDATE runs SET status = 'COMPLETED', output = d.new_output, error = NULL,
        finished_at = :now, lease_id = NULL, lease_expires_at = NULL, hook_pending = NULL,
        execution_seconds = runs.execution_seconds + d.ran, cost = runs.cost + d.priced,
        updated_at = :now
    FROM d
    WHERE runs.id = d.run_id AND runs.status = 'EXECUTING' AND runs.lease_id = d.lease
    RETURNING runs.id, runs.parent_id, d.number
), finished AS (
    UPDATE attempts SET status = 'COMPLETED', finished_at = :now, error = NULL
    FROM done WHERE attempts.run_id = done.id AND attempts.number = done.number
), logged AS (
    INSERT INTO run_events (run_id, at, kind, status, attempt, data)
    SELECT id, :now, 'complete', 'COMPLETED', number, '{}' FROM done
)
SELECT id, parent_id FROM done

-- metadata and tags

-- name: window_start_at
-- The start at offset :skip (oldest first) of a queue's rate window, over all its keys or
-- only :key's: when it leaves the window, the claim that a rate held back may start more.
SELECT at FROM queue_starts
WHERE environment = :environment AND queue = :queue AND at > :since
  AND (:key::text IS NULL OR concurrency_key = :key)
ORDER BY at LIMIT 1 OFFSET :skip

-- replay checks

-- name: runs_to_check
-- One page of an environment's runs that are not final, by id after :after: what
-- ``outlast deploy --check`` replays against new code. :version keeps those pinned to it
-- (NULL: any), and :unpinned adds those not pinned yet.
SELECT * FROM runs
WHERE environment = :environment AND id > :after
  AND status <> ALL(:final)
  AND (:version::text IS NULL OR version = :version
       OR (:unpinned::boolean AND version IS NULL))
ORDER BY id LIMIT :limit

-- name: error_buckets
-- Failed attempts in a window by group, version and time slot (slot = which of the
-- window's equal parts): the Errors page's one GROUP BY, read from run_errors_window
-- alone. ``task_id`` '' means every task.
SELECT fingerprint, task_id, version, floor((at - :since) / :width)::int AS slot,
    count(*) AS attempts, sum(final) AS runs
FROM run_errors
WHERE environment = :environment AND at >= :since
  AND (:task_id = '' OR task_id = :task_id)
GROUP BY fingerprint, task_id, version, slot

-- name: error_group_buckets
-- ``error_buckets`` for one group, read from run_errors_group alone.
SELECT fingerprint, task_id, version, floor((at - :since) / :width)::int AS slot,
    count(*) AS attempts, sum(final) AS runs
FROM run_errors
WHERE environment = :environment AND fingerprint = :fingerprint AND at >= :since
GROUP BY fingerprint, task_id, version, slot

-- retention (ids arrive as arrays) ---------------------------------------------------------

-- name: retention_candidates
-- Finished top-level runs of one task and status whose retention counts from before
-- :before, oldest first, after the (since, id) cursor; reads ``runs_retention`` only.
SELECT id, batch_id, GREATEST(finished_at, coalesce(idempotency_expires_at, 0)) AS since
FROM runs
WHERE environment = :environment AND task_id = :task_id AND status = :status
  AND root_id IS NULL AND finished_at IS NOT NULL AND hook_pending IS NULL
  AND GREATEST(finished_at, coalesce(idempotency_expires_at, 0)) < :before
  AND (GREATEST(finished_at, coalesce(idempotency_expires_at, 0)), id) > (:after_since::double precision, :after_id::text)
ORDER BY GREATEST(finished_at, coalesce(idempotency_expires_at, 0)), id
LIMIT :limit

-- name: retention_batch_trees
-- runs_batch leaves EXECUTING runs out (0028): those come from runs_executing.
SELECT batch_id, coalesce(root_id, id) AS tree FROM runs
WHERE batch_id = ANY(:batch_ids) AND status <> 'EXECUTING'
UNION
SELECT batch_id, coalesce(root_id, id) FROM runs
WHERE status = 'EXECUTING' AND batch_id = ANY(:batch_ids)

-- name: retention_tree_facts
-- What decides whether whole trees may go, per (tree, task, status): the latest end, the
-- latest idempotency key expiry, hooks not yet called, and how many runs.
SELECT coalesce(root_id, id) AS tree, task_id, status, max(finished_at) AS finished_at,
       max(idempotency_expires_at) AS key_expires_at, count(hook_pending) AS hooks,
       count(*) AS runs
FROM runs
WHERE id = ANY(:trees)
   OR root_id = ANY(:trees)
GROUP BY coalesce(root_id, id), task_id, status

-- name: retention_children
SELECT id FROM runs WHERE root_id = ANY(:trees) LIMIT :limit

-- name: retention_count
-- What deleting these trees would remove, per table (``outlast prune --dry-run``).
WITH doomed AS (
    SELECT id FROM runs
    WHERE id = ANY(:trees)
       OR root_id = ANY(:trees)
)
SELECT (SELECT count(*) FROM doomed) AS runs,
       (SELECT count(*) FROM run_events WHERE run_id IN (SELECT id FROM doomed)) AS run_events,
       (SELECT count(*) FROM run_logs WHERE run_id IN (SELECT id FROM doomed)) AS run_logs,
       (SELECT count(*) FROM attempts WHERE run_id IN (SELECT id FROM doomed)) AS attempts,
       (SELECT count(*) FROM run_journal WHERE run_id IN (SELECT id FROM doomed)) AS run_journal,
       (SELECT count(*) FROM run_tags WHERE run_id IN (SELECT id FROM doomed)) AS run_tags,
       (SELECT count(*) FROM run_stream_chunks WHERE run_id IN (SELECT id FROM doomed))
           AS run_stream_chunks,
       (SELECT count(*) FROM waitpoints WHERE run_id IN (SELECT id FROM doomed)
           OR (run_id IS NULL AND created_by_run IN (SELECT id FROM doomed))) AS waitpoints,
       (SELECT count(*) FROM alert_outbox WHERE run_id IN (SELECT id FROM doomed))
           AS alert_outbox,
       (SELECT count(*) FROM schedule_ticks WHERE run_id IN (SELECT id FROM doomed))
           AS schedule_ticks,
       (SELECT count(*) FROM debounces WHERE run_id IN (SELECT id FROM doomed)) AS debounces

-- name: retention_delete_run_events
DELETE FROM run_events WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_run_logs
DELETE FROM run_logs WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_attempts
DELETE FROM attempts WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_run_journal
DELETE FROM run_journal WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_run_tags
DELETE FROM run_tags WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_run_stream_chunks
DELETE FROM run_stream_chunks WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_waitpoints
-- The waits of these runs, and the tokens they created that no other run waits on (a
-- token a live run waits on stays, whoever created it).
DELETE FROM waitpoints
WHERE run_id = ANY(:ids::text[])
   OR (run_id IS NULL AND created_by_run = ANY(:ids::text[]))

-- name: retention_delete_alert_outbox
DELETE FROM alert_outbox WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_schedule_ticks
DELETE FROM schedule_ticks WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_debounces
DELETE FROM debounces WHERE run_id = ANY(:ids::text[])

-- name: retention_delete_runs
DELETE FROM runs WHERE id = ANY(:ids::text[])

-- name: existing_run_ids
-- Which of these ids are runs (blob orphans: ``RetentionOps.orphans``).
SELECT id FROM runs WHERE id = ANY(:ids::text[])

-- name: existing_waitpoint_ids
SELECT id FROM waitpoints WHERE id = ANY(:ids::text[])

-- name: table_sizes
-- How big the run tables are, without reading them: rows as PostgreSQL last counted them
-- (pg_class.reltuples, kept by VACUUM and ANALYZE; NULL before the first: not known yet)
-- and bytes on disk with their indexes and TOAST. Names resolve through the search path,
-- so a project kept in its own schema measures its own tables.
SELECT t.name, CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint END AS rows,
    pg_total_relation_size(c.oid) AS bytes, true AS estimated
FROM unnest(:tables::text[]) WITH ORDINALITY AS t(name, n)
JOIN pg_class c ON c.oid = to_regclass(t.name)
ORDER BY t.n

-- name: dead_rows
-- Live and dead row versions of the named tables, and when either VACUUM last ran on
-- them (seconds since the epoch): what upkeep reads to decide whether to vacuum. Dead
-- versions are n_dead_tup or, when larger, the rows updated or deleted since the last
-- count (changes less inserts): a page's opportunistic pruning takes dead versions off
-- n_dead_tup, but not their index entries, which only VACUUM removes.
SELECT s.relname AS name, s.n_live_tup AS live,
    greatest(s.n_dead_tup, s.n_mod_since_analyze - s.n_ins_since_vacuum) AS dead,
    extract(epoch FROM greatest(s.last_vacuum, s.last_autovacuum))::float8 AS vacuumed_at
FROM unnest(:tables::text[]) AS t(name)
JOIN pg_stat_user_tables s ON s.relid = to_regclass(t.name)

-- name: list_runs
-- The shared list_runs (../queries.sql, which says what each line does), and the QUEUED
-- runs of a page in id order (``queued``) read apart: runs_queued holds them (0029), the
-- list's other indexes do not. A skip scan finds each (task, queue) pair with QUEUED runs
-- (``pairs``, one seek each); each pair's first ids in page order are read as one range
-- of runs_queued (``LATERAL``; ordered by the index's own columns, so no plan walks
-- runs_pkey newest first over a backlog of newer runs of another pair); and the page
-- reads the runs of the first of those ids (an array, which the planner counts small:
-- joined, a generic plan guessed a tenth of every pair's runs and paid 10 ms of JIT
-- compiling). A task or queue filter leaves the pairs of others empty (a contradiction in
-- the index range), so no pair's backlog is read. Only id-order pages read them so
-- (``listing.apart_here``): a page driven by another index (a tag, a version, a time
-- range...) reads its QUEUED runs from it. The others of an id-order page (``not_queued``)
-- are read in (environment, id) order (``by_env_id``), the environment asked as a range
-- as a version is: in id order, a plan may walk runs_pkey newest first and step over the
-- whole backlog, every QUEUED run newer than the page (the planner takes the runs it
-- leaves out as spread evenly: 27 ms for a page 2 at 200,000 QUEUED runs); only an index
-- led by the environment gives this order.
WITH RECURSIVE pairs(task_id, queue) AS ( -- when queued
    (SELECT task_id, queue FROM runs -- when queued
     WHERE environment = :environment AND status = 'QUEUED' -- when queued
     ORDER BY task_id, queue LIMIT 1) -- when queued
    UNION ALL -- when queued
    SELECT later.task_id, later.queue FROM pairs, LATERAL ( -- when queued
        SELECT r.task_id, r.queue FROM runs r -- when queued
        WHERE r.environment = :environment AND r.status = 'QUEUED' -- when queued
          AND (r.task_id, r.queue) > (pairs.task_id, pairs.queue) -- when queued
        ORDER BY r.task_id, r.queue LIMIT 1) AS later -- when queued
) -- when queued
SELECT * FROM (
    SELECT recent.*, lower(payload) LIKE :pattern ESCAPE '!' AS matched, -- when pattern
           row_number() OVER () AS position -- when pattern
    FROM ( -- when pattern
    SELECT runs.* FROM runs WHERE runs.id = ANY(ARRAY( -- when queued
    SELECT page.id FROM pairs, LATERAL ( -- when queued
    SELECT runs.id -- when queued
    SELECT runs.* -- unless queued
    FROM runs -- unless tag
    FROM run_tags JOIN runs ON runs.id = run_tags.run_id -- when tag
    WHERE runs.environment = :environment -- unless by_env_id
    WHERE runs.environment >= :environment AND runs.environment <= :environment -- when by_env_id
      AND run_tags.environment = :environment AND run_tags.tag = :tag -- when tag
      AND runs.id IN (SELECT run_id FROM run_tags WHERE tag = :also_tag) -- when also_tag
      AND runs.status = :status -- when status
      AND runs.status <> 'EXECUTING' -- when not_executing
      AND runs.status = 'EXECUTING' -- when executing
      AND runs.status <> 'QUEUED' -- when not_queued
      AND runs.status = 'QUEUED' AND runs.task_id = pairs.task_id -- when queued
      AND runs.queue = pairs.queue -- when queued
      -- include: list_runs_filters
    ORDER BY runs.task_id, runs.queue, runs.id DESC -- when queued
    LIMIT :window
    ) AS page ORDER BY page.id DESC LIMIT :window)) -- when queued
    ORDER BY runs.id DESC -- when queued
    ) AS recent -- when pattern
) AS recent
WHERE matched OR position = :window -- when pattern
ORDER BY id DESC -- when by_id
ORDER BY id DESC -- when by_tag_id
ORDER BY id DESC -- when by_version_id
ORDER BY created_at DESC, id DESC -- when by_created_at
ORDER BY started_at DESC, id DESC -- when by_started_at
ORDER BY finished_at DESC, id DESC -- when by_finished_at
ORDER BY id DESC -- when queued
ORDER BY id DESC -- when by_env_id
LIMIT :limit

-- reads that count or list EXECUTING and QUEUED runs with the others (0028, 0029) --------
-- PostgreSQL's runs-list indexes leave EXECUTING runs out, so each of these reads the other
-- runs through them, with ``status <> 'EXECUTING'`` in its text (a partial index serves
-- only a query that says so), and the EXECUTING ones through runs_executing: at most the
-- workers' concurrency of an environment. runs_env_created, runs_env_status,
-- runs_env_task, runs_env_task_status and runs_queue leave QUEUED runs out too (0029): a
-- read of one of those says ``status <> 'QUEUED'`` as well and reads the QUEUED runs from
-- runs_queued (environment, task_id, queue, id DESC). SQLite's indexes hold every run: its
-- versions are the shared ones in ../queries.sql.

-- name: dashboard_task_recent
-- The task's QUEUED runs: a skip scan over the queues holding them (one seek each in
-- runs_queued), then each queue's newest ids, read in the index's own order (``queue,
-- id``: no plan walks runs_pkey over a newer backlog in another queue), and the runs of
-- the newest of those (see list_runs).
WITH RECURSIVE queues_seen(queue) AS (
    SELECT min(queue) FROM runs
    WHERE environment = :environment AND task_id = :task_id AND status = 'QUEUED'
    UNION ALL
    SELECT (SELECT min(r.queue) FROM runs r
            WHERE r.environment = :environment AND r.task_id = :task_id
              AND r.status = 'QUEUED' AND r.queue > queues_seen.queue)
    FROM queues_seen WHERE queues_seen.queue IS NOT NULL
)
SELECT status, execution_seconds, created_at FROM (
    (SELECT id, status, execution_seconds, created_at FROM runs
     WHERE environment = :environment AND task_id = :task_id AND status <> 'EXECUTING'
       AND status <> 'QUEUED'
     ORDER BY id DESC LIMIT :limit)
    UNION ALL
    SELECT id, status, execution_seconds, created_at FROM runs
    WHERE environment = :environment AND task_id = :task_id AND status = 'EXECUTING'
    UNION ALL
    SELECT id, status, execution_seconds, created_at FROM runs
    WHERE id = ANY(ARRAY(
        SELECT newest.id FROM queues_seen, LATERAL (
            SELECT id FROM runs
            WHERE environment = :environment AND task_id = :task_id AND status = 'QUEUED'
              AND queue = queues_seen.queue
            ORDER BY queue, id DESC LIMIT :limit) AS newest
        ORDER BY newest.id DESC LIMIT :limit))
) AS recent
ORDER BY id DESC LIMIT :limit

-- name: dashboard_active_counts
SELECT status, count(*) AS n FROM runs
WHERE environment = :environment AND status IN ('DELAYED', 'WAITING', 'PARKED')
GROUP BY status
UNION ALL
SELECT status, count(*) FROM runs
WHERE environment = :environment AND status = 'QUEUED'
GROUP BY status
UNION ALL
SELECT status, count(*) FROM runs
WHERE environment = :environment AND status = 'EXECUTING'
GROUP BY status

-- name: dashboard_recent_runs
SELECT status, created_at, finished_at, execution_seconds FROM (
    (SELECT status, created_at, finished_at, execution_seconds FROM runs
     WHERE environment = :environment AND created_at >= :since AND status <> 'EXECUTING'
     ORDER BY created_at DESC LIMIT :limit)
    UNION ALL
    SELECT status, created_at, finished_at, execution_seconds FROM runs
    WHERE environment = :environment AND created_at >= :since AND status = 'EXECUTING'
) AS recent
ORDER BY created_at DESC LIMIT :limit

-- name: metrics_live_runs
SELECT task_id, status, count(*) AS n FROM runs
WHERE environment = :environment AND status IN ('DELAYED', 'WAITING', 'PARKED')
GROUP BY task_id, status
UNION ALL
SELECT task_id, status, count(*) FROM runs
WHERE environment = :environment AND status = 'QUEUED'
GROUP BY task_id, status
UNION ALL
SELECT task_id, status, count(*) FROM runs
WHERE environment = :environment AND status = 'EXECUTING'
GROUP BY task_id, status

-- name: retention_environments
-- Every environment with runs retention could remove (none is EXECUTING or QUEUED): a
-- loose index scan of runs_env_created (one seek per environment), not a read of every run.
WITH RECURSIVE envs(environment) AS (
    SELECT min(environment) FROM runs WHERE status <> 'EXECUTING' AND status <> 'QUEUED'
    UNION ALL
    SELECT (SELECT min(r.environment) FROM runs r
            WHERE r.environment > envs.environment AND r.status <> 'EXECUTING'
              AND r.status <> 'QUEUED')
    FROM envs WHERE envs.environment IS NOT NULL
)
SELECT environment FROM envs WHERE environment IS NOT NULL

-- name: retention_task_ids
-- Every task with runs retention could remove in an environment, registered or not (one
-- seek per task in runs_env_task; its QUEUED runs are none retention removes).
WITH RECURSIVE tasks_seen(task_id) AS (
    SELECT min(task_id) FROM runs
    WHERE environment = :environment AND status <> 'EXECUTING' AND status <> 'QUEUED'
    UNION ALL
    SELECT (SELECT min(r.task_id) FROM runs r
            WHERE r.environment = :environment AND r.task_id > tasks_seen.task_id
              AND r.status <> 'EXECUTING' AND r.status <> 'QUEUED')
    FROM tasks_seen WHERE tasks_seen.task_id IS NOT NULL
)
SELECT task_id FROM tasks_seen WHERE task_id IS NOT NULL

-- name: pinned_run_counts
-- Runs pinned to each version that are not final yet, by status: what keeps a version's
-- workers needed. Final statuses are listed (not active ones), so a new active status is
-- counted without changing this.
SELECT version, status, count(*) AS n FROM runs
WHERE environment = :environment AND version IS NOT NULL
    AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                       'EXPIRED', 'TIMED_OUT')
    AND status <> 'EXECUTING'
GROUP BY version, status
UNION ALL
SELECT version, status, count(*) FROM runs
WHERE environment = :environment AND status = 'EXECUTING' AND version IS NOT NULL
GROUP BY version, status

-- name: pinned_active_run
-- Any run pinned to the version that is not final: the version is not drained.
SELECT id FROM (
    (SELECT id FROM runs
     WHERE environment = :environment AND version = :version
         AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                            'EXPIRED', 'TIMED_OUT')
         AND status <> 'EXECUTING'
     LIMIT 1)
    UNION ALL
    (SELECT id FROM runs
     WHERE environment = :environment AND status = 'EXECUTING' AND version = :version
     LIMIT 1)
) AS pinned
LIMIT 1

-- name: dev_runs_to_follow
-- ``outlast dev`` reloaded: its unfinished runs pinned to an earlier reload of the
-- environment follow the newest code (``engine/versions.py``, ``follow_reload``).
SELECT id, status, version FROM runs
WHERE environment = :environment AND version <> :version
    AND version IN (SELECT version FROM versions
                    WHERE environment = :environment AND source = 'dev')
    AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                       'EXPIRED', 'TIMED_OUT')
    AND status <> 'EXECUTING'
UNION ALL
SELECT id, status, version FROM runs
WHERE environment = :environment AND status = 'EXECUTING' AND version <> :version
    AND version IN (SELECT version FROM versions
                    WHERE environment = :environment AND source = 'dev')
ORDER BY id
