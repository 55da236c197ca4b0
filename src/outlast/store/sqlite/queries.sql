-- SQLite's own versions of the named queries whose text differs from ../queries.sql.
-- Lists arrive as JSON text and are read with json_each.

-- name: get_runs
SELECT * FROM runs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: insert_runs
-- New runs from a JSON array of ``runs`` rows (``engine/triggering.build_row``). SQLite has
-- no data-modifying CTEs (``Tx.compound_writes``): the caller writes the ``created`` events
-- and tags itself, in the same transaction. The engine inserts rows one by one here
-- (``insert_run``, an ``executemany`` in process, which reads each row faster than
-- ``json_each`` does); this form is what the store contract runs. (:tagged, which tells
-- PostgreSQL's version whether to write tags, means nothing here.) One run may come as its
-- columns' values instead of :rows, as PostgreSQL's version takes a single trigger.
INSERT INTO runs (id, environment, task_id, queue, status, payload, priority, concurrency_key,
    tags, metadata, idempotency_key, idempotency_expires_at, max_attempts, retry, machine,
    max_duration, ttl, available_at, expires_at, parent_id, root_id, batch_id, replayed_from,
    version, traceparent, created_at, queued_at, updated_at)
SELECT value ->> 'id', value ->> 'environment', value ->> 'task_id', value ->> 'queue',  -- when rows
    value ->> 'status', value ->> 'payload', value ->> 'priority', value ->> 'concurrency_key', -- when rows
    value ->> 'tags', value ->> 'metadata', value ->> 'idempotency_key',                -- when rows
    value ->> 'idempotency_expires_at', value ->> 'max_attempts', value ->> 'retry',    -- when rows
    value ->> 'machine', value ->> 'max_duration', value ->> 'ttl', value ->> 'available_at', -- when rows
    value ->> 'expires_at', value ->> 'parent_id', value ->> 'root_id', value ->> 'batch_id', -- when rows
    value ->> 'replayed_from', value ->> 'version', value ->> 'traceparent',            -- when rows
    value ->> 'created_at',                                                             -- when rows
    value ->> 'queued_at', value ->> 'created_at'                                       -- when rows
FROM json_each(:rows)                                                                   -- when rows
VALUES (:id, :environment, :task_id, :queue, :status, :payload, :priority,  -- unless rows
    :concurrency_key, :tags, :metadata, :idempotency_key, :idempotency_expires_at, -- unless rows
    :max_attempts, :retry, :machine, :max_duration, :ttl, :available_at, :expires_at, -- unless rows
    :parent_id, :root_id, :batch_id, :replayed_from, :version, :traceparent,   -- unless rows
    :created_at, :queued_at, :created_at)                                       -- unless rows

-- name: load_runs
-- New runs in bulk, without idempotency keys (PostgreSQL streams them with ``COPY``); one
-- row at a time in an ``executemany``, as ``insert_run`` but for runs whose fresh ids
-- cannot conflict.
INSERT INTO runs (id, environment, task_id, queue, status, payload, priority, concurrency_key,
    tags, metadata, idempotency_key, idempotency_expires_at, max_attempts, retry, machine,
    max_duration, ttl, available_at, expires_at, parent_id, root_id, batch_id, replayed_from,
    version, traceparent, created_at, queued_at, updated_at, created_event)
VALUES (:id, :environment, :task_id, :queue, :status, :payload, :priority, :concurrency_key,
    :tags, :metadata, :idempotency_key, :idempotency_expires_at, :max_attempts, :retry, :machine,
    :max_duration, :ttl, :available_at, :expires_at, :parent_id, :root_id, :batch_id,
    :replayed_from, :version, :traceparent, :created_at, :queued_at, :updated_at, :created_event)

-- name: next_event_id
-- The id of a bulk load's shared ``created`` event (0033): the next the table hands out
-- (AUTOINCREMENT never hands out an id twice, ``sqlite_sequence`` holds the last), so
-- every later event of the runs that hold it has a larger id.
SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'run_events'), 0) + 1 AS id

-- name: insert_created_events
-- The ``created`` events of runs loaded in bulk: ids and statuses as two JSON arrays, read
-- side by side (``json_extract`` parses ``:statuses`` once per statement: SQLite keeps the
-- parsed value for the following rows).
INSERT INTO run_events (run_id, at, kind, status, attempt, data)
SELECT i.value, :at, 'created', json_extract(:statuses, '$[' || i.key || ']'), NULL, '{}'
FROM json_each(:ids) AS i

-- name: insert_new_run_tags
-- The tags of runs loaded in bulk, as ``insert_created_events``: (run id, tag) pairs.
-- (``WHERE true``: SQLite reads an upsert after ``INSERT … SELECT … FROM`` only past one.)
INSERT INTO run_tags (run_id, environment, tag)
SELECT i.value, :environment, json_extract(:tags, '$[' || i.key || ']')
FROM json_each(:run_ids) AS i WHERE true
ON CONFLICT DO NOTHING

-- name: claim_unlimited
-- The common case in one statement: when none of the queues a worker takes from is paused
-- or has a limit (concurrency, total or rate) and the environment has no limit, nothing
-- needs counting, so candidates are started at once (the caller holds the write lock:
-- BEGIN IMMEDIATE). This one takes from every queue; claim_unlimited_in from a named
-- list. No row back means either nothing was queued or a queue has a limit; the caller
-- then takes the counting path. A returned row proves no queue had one, hence
-- ``limited_queues`` is 0. Order (engine/flow.py, claim_rank): runs that already started,
-- oldest due first (runs_claim_any_started), then fresh runs by aged priority; the fresh
-- half is read only when the started half left room under the LIMIT. SQLite has no
-- writing CTEs, so the caller writes attempts and events (``Tx.compound_writes``).
UPDATE runs SET status = 'EXECUTING', attempt_count = attempt_count + 1,
    lease_id = :lease_id, lease_expires_at = :lease_expires_at, worker_id = :worker_id,
    started_at = coalesce(started_at, :now), version = coalesce(version, :version),
    updated_at = :now
WHERE status = 'QUEUED' AND id IN (
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND status = 'QUEUED' AND started_at IS NOT NULL
          AND available_at <= :now
          AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
               OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
               OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:tasks))
                   AND NOT EXISTS (
                     SELECT 1 FROM versions
                     WHERE environment = :environment AND version = :version
                       AND state = 'retired')
                   AND NOT EXISTS (
                     SELECT 1 FROM versions c
                     JOIN version_tasks vt
                       ON vt.environment = c.environment AND vt.version = c.version
                     WHERE c.environment = :environment AND c.state = 'current'
                       AND c.version <> :version AND vt.task_id = runs.task_id)))
          AND NOT EXISTS (
            SELECT 1 FROM queues
            WHERE environment = :environment
              AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
                   OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL))
          AND NOT EXISTS (
            SELECT 1 FROM environment_limits
            WHERE environment = :environment AND concurrency_limit IS NOT NULL)
        ORDER BY available_at, id
        LIMIT :limit)
    UNION ALL
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND status = 'QUEUED' AND started_at IS NULL
          AND available_at <= :now
          AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
               OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
               OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:tasks))
                   AND NOT EXISTS (
                     SELECT 1 FROM versions
                     WHERE environment = :environment AND version = :version
                       AND state = 'retired')
                   AND NOT EXISTS (
                     SELECT 1 FROM versions c
                     JOIN version_tasks vt
                       ON vt.environment = c.environment AND vt.version = c.version
                     WHERE c.environment = :environment AND c.state = 'current'
                       AND c.version <> :version AND vt.task_id = runs.task_id)))
          AND NOT EXISTS (
            SELECT 1 FROM queues
            WHERE environment = :environment
              AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
                   OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL))
          AND NOT EXISTS (
            SELECT 1 FROM environment_limits
            WHERE environment = :environment AND concurrency_limit IS NOT NULL)
        ORDER BY available_at - priority * 60, id
        LIMIT :limit)
    LIMIT :limit)
RETURNING 0 AS limited_queues,
-- include: claimed_columns

-- name: claim_unlimited_in
-- claim_unlimited for a named list of queues.
UPDATE runs SET status = 'EXECUTING', attempt_count = attempt_count + 1,
    lease_id = :lease_id, lease_expires_at = :lease_expires_at, worker_id = :worker_id,
    started_at = coalesce(started_at, :now), version = coalesce(version, :version),
    updated_at = :now
WHERE status = 'QUEUED' AND id IN (
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND status = 'QUEUED' AND started_at IS NOT NULL
          AND available_at <= :now
          AND queue IN (SELECT value FROM json_each(:queues))
          AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
               OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
               OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:tasks))
                   AND NOT EXISTS (
                     SELECT 1 FROM versions
                     WHERE environment = :environment AND version = :version
                       AND state = 'retired')
                   AND NOT EXISTS (
                     SELECT 1 FROM versions c
                     JOIN version_tasks vt
                       ON vt.environment = c.environment AND vt.version = c.version
                     WHERE c.environment = :environment AND c.state = 'current'
                       AND c.version <> :version AND vt.task_id = runs.task_id)))
          AND NOT EXISTS (
            SELECT 1 FROM queues
            WHERE environment = :environment
              AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
                   OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL)
              AND name IN (SELECT value FROM json_each(:queues)))
          AND NOT EXISTS (
            SELECT 1 FROM environment_limits
            WHERE environment = :environment AND concurrency_limit IS NOT NULL)
        ORDER BY available_at, id
        LIMIT :limit)
    UNION ALL
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND status = 'QUEUED' AND started_at IS NULL
          AND available_at <= :now
          AND queue IN (SELECT value FROM json_each(:queues))
          AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
               OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
               OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:tasks))
                   AND NOT EXISTS (
                     SELECT 1 FROM versions
                     WHERE environment = :environment AND version = :version
                       AND state = 'retired')
                   AND NOT EXISTS (
                     SELECT 1 FROM versions c
                     JOIN version_tasks vt
                       ON vt.environment = c.environment AND vt.version = c.version
                     WHERE c.environment = :environment AND c.state = 'current'
                       AND c.version <> :version AND vt.task_id = runs.task_id)))
          AND NOT EXISTS (
            SELECT 1 FROM queues
            WHERE environment = :environment
              AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
                   OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL)
              AND name IN (SELECT value FROM json_each(:queues)))
          AND NOT EXISTS (
            SELECT 1 FROM environment_limits
            WHERE environment = :environment AND concurrency_limit IS NOT NULL)
        ORDER BY available_at - priority * 60, id
        LIMIT :limit)
    LIMIT :limit)
RETURNING 0 AS limited_queues,
-- include: claimed_columns

-- name: lock_flow_queues
-- The controlled queues a claim may take from, locked in name order (so two claimers
-- never deadlock) before their running runs and recent starts are counted: no other
-- claimer can see the same free slot or the same rate budget until this one commits.
SELECT name, paused, concurrency_limit, total_limit, rate_limit, key_rate_limit, key_cursor
FROM queues
WHERE environment = :environment
  AND (paused = 1 OR concurrency_limit IS NOT NULL OR total_limit IS NOT NULL
       OR rate_limit IS NOT NULL OR key_rate_limit IS NOT NULL)
  AND (:queues IS NULL OR name IN (SELECT value FROM json_each(:queues)))
ORDER BY name

-- name: lock_environment_limit
SELECT concurrency_limit FROM environment_limits
WHERE environment = :environment

-- name: key_heads
-- The first run of each of the next :limit concurrency keys after :after (in byte order),
-- found by a skip scan over runs_claim_keyed: one index probe per key, however many runs
-- each key has queued, so 50,000 runs of one key cost nothing to step over. A key's first
-- run is its oldest due started run if it has one (runs_claim_keyed_started), else its
-- best fresh run.
WITH RECURSIVE keys(k, n) AS (
    SELECT (SELECT concurrency_key FROM runs
            WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
              AND concurrency_key IS NOT NULL AND concurrency_key > :after
            ORDER BY concurrency_key LIMIT 1), 1
    UNION ALL
    SELECT (SELECT r.concurrency_key FROM runs r
            WHERE r.environment = :environment AND r.queue = :queue AND r.status = 'QUEUED'
              AND r.concurrency_key IS NOT NULL AND r.concurrency_key > keys.k
            ORDER BY r.concurrency_key LIMIT 1), keys.n + 1
    FROM keys WHERE keys.k IS NOT NULL AND keys.n < :limit
)
SELECT r.id, r.queue, r.concurrency_key, r.priority, r.available_at, r.started_at FROM keys
JOIN runs r ON r.id = (
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
          AND concurrency_key IS NOT NULL AND concurrency_key = keys.k
          AND started_at IS NOT NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
        ORDER BY available_at, id
        LIMIT 1)
    UNION ALL
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
          AND concurrency_key IS NOT NULL AND concurrency_key = keys.k
          AND started_at IS NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
        ORDER BY available_at - priority * 60, id
        LIMIT 1)
    LIMIT 1)
WHERE keys.k IS NOT NULL

-- name: queue_candidates
-- The head of one controlled queue in claim order: runs that already started, oldest due
-- first, then fresh runs by aged priority (read as in claim_unlimited).
SELECT * FROM (
    SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
    WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
      AND started_at IS NOT NULL
      AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
    ORDER BY available_at, id
    LIMIT :limit)
UNION ALL
SELECT * FROM (
    SELECT id, queue, concurrency_key, priority, available_at, started_at FROM runs
    WHERE environment = :environment AND queue = :queue AND status = 'QUEUED'
      AND started_at IS NULL
      AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
    ORDER BY available_at - priority * 60, id
    LIMIT :limit)
LIMIT :limit

-- name: other_candidates
-- Runs of the queues nothing controls, when the counting path runs for another reason:
-- the queues holding queued runs are found by a skip scan over runs_claim (one probe per
-- queue), so a controlled queue's backlog is never read row by row. Each queue's head is
-- read in claim order as in claim_unlimited.
WITH RECURSIVE qs(name) AS (
    SELECT (SELECT queue FROM runs WHERE environment = :environment AND status = 'QUEUED'
            ORDER BY queue LIMIT 1)
    UNION ALL
    SELECT (SELECT r.queue FROM runs r
            WHERE r.environment = :environment AND r.status = 'QUEUED' AND r.queue > qs.name
            ORDER BY r.queue LIMIT 1)
    FROM qs WHERE qs.name IS NOT NULL
)
SELECT r.id, r.queue, r.concurrency_key, r.priority, r.available_at, r.started_at FROM qs
JOIN runs r ON r.id IN (
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND queue = qs.name AND status = 'QUEUED'
          AND started_at IS NOT NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
        ORDER BY available_at, id
        LIMIT :limit)
    UNION ALL
    SELECT id FROM (
        SELECT id FROM runs
        WHERE environment = :environment AND queue = qs.name AND status = 'QUEUED'
          AND started_at IS NULL
          AND available_at <= :now AND (expires_at IS NULL OR expires_at > :now)
          AND (:version IS NULL
           OR (version = :version AND task_id IN (SELECT value FROM json_each(:tasks)))
           OR (version IS NULL AND task_id IN (SELECT value FROM json_each(:fresh))))
        ORDER BY available_at - priority * 60, id
        LIMIT :limit)
    LIMIT :limit)
WHERE qs.name IS NOT NULL
  AND (:queues IS NULL OR qs.name IN (SELECT value FROM json_each(:queues)))
  AND qs.name NOT IN (SELECT value FROM json_each(:controlled))
ORDER BY r.started_at IS NULL,
    CASE WHEN r.started_at IS NULL THEN r.available_at - r.priority * 60 ELSE r.available_at END,
    r.id
LIMIT :limit

-- name: executing_key_counts
SELECT queue, concurrency_key, count(*) AS running FROM runs
WHERE environment = :environment AND status = 'EXECUTING' AND concurrency_key IS NOT NULL
  AND queue IN (SELECT value FROM json_each(:names))
GROUP BY queue, concurrency_key

-- name: executing_counts
SELECT queue, count(*) AS running FROM runs
WHERE environment = :environment AND status = 'EXECUTING'
  AND queue IN (SELECT value FROM json_each(:names))
GROUP BY queue

-- name: start_runs
UPDATE runs SET status = 'EXECUTING', attempt_count = attempt_count + 1, lease_id = :lease_id,
    lease_expires_at = :lease_expires_at, worker_id = :worker_id,
    started_at = coalesce(started_at, :now), version = coalesce(version, :version),
    updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'QUEUED'
RETURNING concurrency_key,  -- for the starts a rate counts (engine/dequeue.py)
-- include: claimed_columns

-- name: heartbeat_runs
UPDATE runs SET lease_expires_at = :lease_expires_at
WHERE worker_id = :worker_id AND status = 'EXECUTING'
  AND id IN (SELECT value FROM json_each(:ids))
RETURNING id, lease_id

-- name: lapsed_leases
SELECT * FROM runs
WHERE status = 'EXECUTING' AND lease_expires_at < :now
ORDER BY lease_expires_at
LIMIT :limit

-- name: end_waiting_run
UPDATE runs SET status = :status, error = :error, finished_at = :now, hook_pending = :hook_pending,
    lease_id = NULL, lease_expires_at = NULL, parked = NULL, updated_at = :now
WHERE id = :id AND status IN (SELECT value FROM json_each(:from_statuses))

-- name: list_api_keys
SELECT id, environment, scope, prefix, created_at, revoked_at FROM api_keys
WHERE (:environment IS NULL OR environment = :environment) ORDER BY created_at

-- name: claim_hooks
UPDATE runs SET hook_lease = :lease_id, updated_at = :now
WHERE id IN (
    SELECT id FROM runs WHERE environment = :environment AND hook_pending IS NOT NULL
      AND hook_lease IS NULL
      AND (:queues IS NULL OR queue IN (SELECT value FROM json_each(:queues)))
      AND (:tasks IS NULL OR task_id IN (SELECT value FROM json_each(:tasks)))
    LIMIT :limit)
RETURNING *

-- schedules ------------------------------------------------------------------------------
-- Cron schedules (engine/schedules.py) and their fired or skipped ticks (engine/ticks.py).

-- name: lock_schedule
SELECT * FROM schedules WHERE id = :id

-- name: find_schedule_by_dedup
SELECT * FROM schedules
WHERE environment = :environment AND deduplication_key = :deduplication_key

-- name: list_declarative_schedules
SELECT * FROM schedules WHERE environment = :environment AND source = 'declarative'
ORDER BY id

-- name: list_schedules
SELECT * FROM schedules
WHERE environment = :environment
  AND (:task_id IS NULL OR task_id = :task_id)
  AND (:cursor IS NULL OR id > :cursor)
ORDER BY id LIMIT :limit

-- durable execution ----------------------------------------------------------------------

-- name: lock_run_lease
SELECT * FROM runs WHERE id = :id AND lease_id = :lease_id AND status = 'EXECUTING'

-- name: lock_run_leases
SELECT id, lease_id FROM runs
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'EXECUTING'

-- name: lock_run
SELECT * FROM runs WHERE id = :id

-- name: insert_journal
INSERT INTO run_journal (run_id, seq, kind, name, status, result, error, created_at, completed_at)
VALUES (:run_id, :seq, :kind, :name, :status, :result, :error, :started,
    CASE WHEN :status = 'pending' THEN NULL ELSE :now END)

-- name: list_journals
SELECT * FROM run_journal WHERE run_id IN (SELECT value FROM json_each(:ids)) ORDER BY run_id, seq

-- name: get_waitpoint
SELECT * FROM waitpoints WHERE id = :id

-- name: due_waitpoints
SELECT id, kind FROM waitpoints
WHERE status = 'PENDING' AND due_at IS NOT NULL AND due_at <= :now
ORDER BY due_at LIMIT :limit

-- name: complete_due_sleeps
-- Due time waitpoints, all at once (``waitpoints.wake_sleeps``).
UPDATE waitpoints SET status = 'COMPLETED', output = :output, error = NULL, completed_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND kind = 'time' AND status = 'PENDING'
RETURNING run_id, seq, due_at

-- name: lock_runs
-- The writing transaction holds the whole database already.
SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id

-- name: resume_settled_runs
UPDATE runs SET status = 'QUEUED', available_at = :now, queued_at = :now, updated_at = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND status = 'WAITING'
  AND NOT EXISTS (SELECT 1 FROM run_journal j WHERE j.run_id = runs.id AND j.status = 'pending')
RETURNING id, queue

-- name: list_tokens
SELECT * FROM waitpoints
WHERE environment = :environment AND kind = 'token'
  AND (:status IS NULL OR status = :status)
  AND (:tag IS NULL OR EXISTS (SELECT 1 FROM json_each(waitpoints.tags) WHERE value = :tag))
  AND (:run_id IS NULL OR created_by_run = :run_id OR run_id = :run_id)
  AND (:cursor IS NULL OR id < :cursor)
ORDER BY id DESC
LIMIT :limit

-- realtime ----------------------------------------------------------------------------
-- metadata, stream chunks, subscriptions, key management, public-token secrets, alerts

-- name: lock_queue
SELECT * FROM queues WHERE environment = :environment AND name = :name

-- name: lock_debounce
SELECT * FROM debounces WHERE environment = :environment AND task_id = :task_id AND key = :key

-- record path

-- name: complete_runs_logged
-- Many completed attempts in one statement, each row still guarded by its own lease: a run
-- whose lease moved on (canceled, recovered) is not written and its id is missing from
-- the answer, so the caller knows exactly which outcomes were stale. SQLite has no
-- data-modifying CTEs (``Tx.compound_writes``): the caller writes the attempt rows and
-- events itself, in the same transaction.
UPDATE runs SET status = 'COMPLETED', output = d.new_output, error = NULL, finished_at = :now,
    lease_id = NULL, lease_expires_at = NULL, hook_pending = NULL,
    execution_seconds = runs.execution_seconds + d.ran, cost = runs.cost + d.priced,
    updated_at = :now
FROM (SELECT i.value AS run_id, l.value AS lease, o.value AS new_output, e.value AS ran,
             c.value AS priced, n.value AS number
      FROM json_each(:ids) AS i
      JOIN json_each(:lease_ids) AS l ON l.key = i.key
      JOIN json_each(:outputs) AS o ON o.key = i.key
      JOIN json_each(:executed) AS e ON e.key = i.key
      JOIN json_each(:costs) AS c ON c.key = i.key
      JOIN json_each(:attempts) AS n ON n.key = i.key) AS d
WHERE runs.id = d.run_id AND runs.status = 'EXECUTING' AND runs.lease_id = d.lease
RETURNING id, parent_id

-- metadata and tags

-- name: window_start_at
-- The start at offset :skip (oldest first) of a queue's rate window, over all its keys or
-- only :key's: when it leaves the window, the claim that a rate held back may start more.
SELECT at FROM queue_starts
WHERE environment = :environment AND queue = :queue AND at > :since
  AND (:key IS NULL OR concurrency_key = :key)
ORDER BY at LIMIT 1 OFFSET :skip

-- replay checks

-- name: runs_to_check
-- One page of an environment's runs that are not final, by id after :after: what
-- ``outlast deploy --check`` replays against new code. :version keeps those pinned to it
-- (NULL: any), and :unpinned adds those not pinned yet.
SELECT * FROM runs
WHERE environment = :environment AND id > :after
  AND status NOT IN (SELECT value FROM json_each(:final))
  AND (:version IS NULL OR version = :version OR (:unpinned AND version IS NULL))
ORDER BY id LIMIT :limit

-- name: error_buckets
-- Failed attempts in a window by group, version and time slot (slot = which of the
-- window's equal parts): the Errors page's one GROUP BY, read from run_errors_window
-- alone. ``task_id`` '' means every task.
SELECT fingerprint, task_id, version, CAST((at - :since) / :width AS INTEGER) AS slot,
    count(*) AS attempts, sum(final) AS runs
FROM run_errors
WHERE environment = :environment AND at >= :since
  AND (:task_id = '' OR task_id = :task_id)
GROUP BY fingerprint, task_id, version, slot

-- name: error_group_buckets
-- ``error_buckets`` for one group, read from run_errors_group alone.
SELECT fingerprint, task_id, version, CAST((at - :since) / :width AS INTEGER) AS slot,
    count(*) AS attempts, sum(final) AS runs
FROM run_errors
WHERE environment = :environment AND fingerprint = :fingerprint AND at >= :since
GROUP BY fingerprint, task_id, version, slot

-- retention (ids arrive as JSON text) ---------------------------------------------------

-- name: retention_candidates
-- Finished top-level runs of one task and status whose retention counts from before
-- :before, oldest first, after the (since, id) cursor; reads ``runs_retention`` only.
SELECT id, batch_id, max(finished_at, coalesce(idempotency_expires_at, 0)) AS since
FROM runs
WHERE environment = :environment AND task_id = :task_id AND status = :status
  AND root_id IS NULL AND finished_at IS NOT NULL AND hook_pending IS NULL
  AND max(finished_at, coalesce(idempotency_expires_at, 0)) < :before
  AND (max(finished_at, coalesce(idempotency_expires_at, 0)), id) > (:after_since, :after_id)
ORDER BY max(finished_at, coalesce(idempotency_expires_at, 0)), id
LIMIT :limit

-- name: retention_batch_trees
SELECT DISTINCT batch_id, coalesce(root_id, id) AS tree FROM runs
WHERE batch_id IN (SELECT value FROM json_each(:batch_ids))

-- name: retention_tree_facts
-- What decides whether whole trees may go, per (tree, task, status): the latest end, the
-- latest idempotency key expiry, hooks not yet called, and how many runs.
SELECT coalesce(root_id, id) AS tree, task_id, status, max(finished_at) AS finished_at,
       max(idempotency_expires_at) AS key_expires_at, count(hook_pending) AS hooks,
       count(*) AS runs
FROM runs
WHERE id IN (SELECT value FROM json_each(:trees))
   OR root_id IN (SELECT value FROM json_each(:trees))
GROUP BY coalesce(root_id, id), task_id, status

-- name: retention_children
SELECT id FROM runs WHERE root_id IN (SELECT value FROM json_each(:trees)) LIMIT :limit

-- name: retention_count
-- What deleting these trees would remove, per table (``outlast prune --dry-run``).
WITH doomed AS (
    SELECT id FROM runs
    WHERE id IN (SELECT value FROM json_each(:trees))
       OR root_id IN (SELECT value FROM json_each(:trees))
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
DELETE FROM run_events WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_run_logs
DELETE FROM run_logs WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_attempts
DELETE FROM attempts WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_run_journal
DELETE FROM run_journal WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_run_tags
DELETE FROM run_tags WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_run_stream_chunks
DELETE FROM run_stream_chunks WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_waitpoints
-- The waits of these runs, and the tokens they created that no other run waits on (a
-- token a live run waits on stays, whoever created it).
DELETE FROM waitpoints
WHERE run_id IN (SELECT value FROM json_each(:ids))
   OR (run_id IS NULL AND created_by_run IN (SELECT value FROM json_each(:ids)))

-- name: retention_delete_alert_outbox
DELETE FROM alert_outbox WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_schedule_ticks
DELETE FROM schedule_ticks WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_debounces
DELETE FROM debounces WHERE run_id IN (SELECT value FROM json_each(:ids))

-- name: retention_delete_runs
DELETE FROM runs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: existing_run_ids
-- Which of these ids are runs (blob orphans: ``RetentionOps.orphans``).
SELECT id FROM runs WHERE id IN (SELECT value FROM json_each(:ids))

-- name: existing_waitpoint_ids
SELECT id FROM waitpoints WHERE id IN (SELECT value FROM json_each(:ids))

-- name: table_sizes
-- How big the run tables are: bytes are the pages of each table and of its indexes
-- (dbstat, one row per b-tree when asked for its aggregate); rows are exact counts, as
-- SQLite keeps no estimate. Both read every page of these tables, so callers read them
-- seldom (the metrics page keeps them a minute).
SELECT s.tbl_name AS name, sum(d.pgsize) AS bytes,
    CASE s.tbl_name
        WHEN 'runs' THEN (SELECT count(*) FROM runs)
        WHEN 'run_events' THEN (SELECT count(*) FROM run_events)
        WHEN 'attempts' THEN (SELECT count(*) FROM attempts)
        WHEN 'run_logs' THEN (SELECT count(*) FROM run_logs)
        WHEN 'run_journal' THEN (SELECT count(*) FROM run_journal)
        WHEN 'run_tags' THEN (SELECT count(*) FROM run_tags)
        WHEN 'waitpoints' THEN (SELECT count(*) FROM waitpoints)
        WHEN 'run_stream_chunks' THEN (SELECT count(*) FROM run_stream_chunks)
        WHEN 'blobs' THEN (SELECT count(*) FROM blobs)
    END AS rows, 0 AS estimated
FROM sqlite_schema s JOIN dbstat('main', 1) d ON d.name = s.name
WHERE s.tbl_name IN (SELECT value FROM json_each(:tables))
GROUP BY s.tbl_name

-- name: dead_rows
-- None: SQLite keeps no dead row versions (an updated or deleted row's space is reused).
SELECT value AS name, 0 AS live, 0 AS dead, NULL AS vacuumed_at
FROM json_each(:tables)
WHERE 0
