-- Named queries both dialects run as written. A dialect whose text differs keeps its own
-- version in <dialect>/queries.sql, which wins over this file (store/queries.py merges them).
-- Parameters are written :name; lists arrive as JSON text on SQLite and as arrays on
-- PostgreSQL, so a query that reads a list is written per dialect.
-- Every status change is guarded on the current status (and, for attempts, the lease).

-- name: insert_run
INSERT INTO runs (id, environment, task_id, queue, status, payload, priority, concurrency_key,
    tags, metadata, idempotency_key, idempotency_expires_at, max_attempts, retry, machine,
    max_duration, ttl, available_at, expires_at, parent_id, root_id, batch_id, replayed_from,
    version, traceparent, created_at, queued_at, updated_at)
VALUES (:id, :environment, :task_id, :queue, :status, :payload, :priority, :concurrency_key,
    :tags, :metadata, :idempotency_key, :idempotency_expires_at, :max_attempts, :retry, :machine,
    :max_duration, :ttl, :available_at, :expires_at, :parent_id, :root_id, :batch_id,
    :replayed_from, :version, :traceparent, :created_at, :queued_at, :created_at)
ON CONFLICT DO NOTHING

-- part: claimed_columns
-- The columns of a run a claim returns (claim_unlimited, claim_unlimited_in, start_runs):
-- what a worker hands its child (``worker/claim_ahead.py``, ``_RUN_FIELDS``) and what the
-- claim and the worker read themselves (claim order, attempt rows, the lease and until
-- when it holds, metrics). Not ``*``: the run's other columns cost the server their output
-- and the worker their parsing, some 200 rows a pass in a drain, and nothing read them.
    id, task_id, queue, payload, priority, tags, metadata, idempotency_key, attempt_count,
    max_attempts, machine, max_duration, execution_seconds, available_at, lease_id,
    lease_expires_at, parent_id, root_id, replayed_from, created_at, queued_at, started_at,
    traceparent

-- part: list_runs_filters
-- The filters, keyset lines and orders of a runs page, the same in both dialects'
-- list_runs (what each means: list_runs below).
      AND runs.task_id = :task_id -- when task_id
      AND runs.queue = :queue -- when queue
      AND runs.version >= :version AND runs.version <= :version -- when version
      AND runs.id IN (SELECT run_id FROM run_errors WHERE environment = :environment AND fingerprint = :fingerprint) -- when fingerprint
      AND runs.created_at >= :created_after -- when created_after
      AND runs.created_at < :created_before -- when created_before
      AND runs.parent_id = :parent_id -- when parent_id
      AND runs.root_id = :root_id -- when root_id
      AND runs.idempotency_key = :idempotency_key -- when idempotency_key
      AND runs.id >= :id_from AND runs.id < :id_to -- when id_to
      AND substr(runs.id, 1, :id_length) = :id_from -- when id_from
      AND runs.idempotency_key >= :key_from AND runs.idempotency_key < :key_to -- when key_sparse
      AND runs.idempotency_key || '' >= :key_from -- when key_dense
      AND substr(runs.idempotency_key, 1, :key_length) = :key_from -- when key_from
      AND runs.id < :after_id -- when after_id_only
      AND run_tags.run_id < :after_id AND runs.id < :after_id -- when after_tag_id
      AND runs.created_at <= :after_at -- when after_created_at
      AND (runs.created_at < :after_at OR runs.id < :after_id) -- when after_created_at
      AND runs.started_at IS NOT NULL -- when by_started_at
      AND runs.started_at <= :after_at -- when after_started_at
      AND (runs.started_at < :after_at OR runs.id < :after_id) -- when after_started_at
      AND runs.finished_at IS NOT NULL -- when by_finished_at
      AND runs.finished_at <= :after_at -- when after_finished_at
      AND (runs.finished_at < :after_at OR runs.id < :after_id) -- when after_finished_at
    ORDER BY runs.id DESC -- when by_id
    ORDER BY runs.environment, runs.id DESC -- when by_env_id
    ORDER BY run_tags.run_id DESC -- when by_tag_id
    ORDER BY runs.version, runs.id DESC -- when by_version_id
    ORDER BY runs.created_at DESC, runs.id DESC -- when by_created_at
    ORDER BY runs.started_at DESC, runs.id DESC -- when by_started_at
    ORDER BY runs.finished_at DESC, runs.id DESC -- when by_finished_at

-- name: list_runs
-- One page of runs. Every filter is a ``-- when`` line (queries.py), so each page reaches
-- the planner with only the filters in use and reads the index made for them (0013).
-- Order, newest first: ``by_id`` (ids sort by creation time), ``by_created_at`` (a time
-- range: read from runs_env_created_at in order), ``by_started_at``/``by_finished_at``
-- (that time, then id; runs without it are left out). ``after_id`` (with ``after_at`` for
-- the time orders) is the keyset cursor: the last row of the previous page. A tag drives
-- the page from run_tags_tag, in id order, however many runs carry it. Id and
-- idempotency-key prefixes are ranges [from, to), checked again with ``substr`` (a
-- collation may place other text inside a range); a key prefix many runs share
-- (``key_dense``) is checked while reading in page order instead (``|| ''`` keeps the
-- planner off the key index, where it would sort every match). With ``pattern``
-- (payload text) only the ``window`` first runs matching the other filters are read: a
-- bounded scan, never the whole table. Its rows come with ``matched``; the window's last
-- row (``position`` = ``window``) comes too, matched or not: the next page starts below it.
-- A version is asked as the range [version, version] and read in (version, id) order
-- (``by_version_id``): a version's runs are one block in time, but the planner assumes
-- them spread evenly, so with ``version = x`` it read runs_pkey newest first and filtered,
-- stepping over every newer version's runs (PostgreSQL: 2.5 s for the oldest of five at
-- 1,000,000 runs); only runs_env_version_id gives the (version, id) order, so it reads that.
-- ``not_executing`` leaves EXECUTING runs out and ``executing`` reads only them, each
-- status in the query's text: PostgreSQL's list indexes hold no EXECUTING run (its
-- migration 0028) and runs_executing holds only those; a page that can show both merges
-- the two (engine/listing.py, ``Tx.statuses_apart``). The EXECUTING runs are checked
-- against an id or key prefix without its range (no ``id_to``; ``key_dense``), so no plan
-- reads that range of another index. ``not_queued`` leaves QUEUED runs out and ``queued``
-- reads only them: PostgreSQL's list indexes hold no QUEUED run (its migration 0029) and it
-- reads them with a skip scan of runs_queued in its own version of this query; here they
-- are a plain filter in id order. ``by_env_id`` is the id order of a page read through
-- an index led by the environment (PostgreSQL's version says why).
SELECT * FROM (
    SELECT recent.*, lower(payload) LIKE :pattern ESCAPE '!' AS matched, -- when pattern
           row_number() OVER () AS position -- when pattern
    FROM ( -- when pattern
    SELECT runs.*
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
      AND runs.status = 'QUEUED' -- when queued
      -- include: list_runs_filters
    ORDER BY runs.id DESC -- when queued
    LIMIT :window
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

-- name: count_key_prefix
-- How many runs (up to ``limit``) hold an idempotency key starting with ``key_from``: few,
-- and list_runs reads them through the key index; many, and it finds them in page order.
SELECT count(*) AS n FROM (
    SELECT 1 FROM runs
    WHERE environment = :environment
      AND idempotency_key >= :key_from AND idempotency_key < :key_to
    LIMIT :limit
) AS sample

-- name: insert_run_tag
INSERT INTO run_tags (run_id, environment, tag) VALUES (:run_id, :environment, :tag)
ON CONFLICT DO NOTHING

-- name: insert_event
INSERT INTO run_events (run_id, at, kind, status, attempt, data)
VALUES (:run_id, :at, :kind, :status, :attempt, :data)

-- name: get_run
SELECT * FROM runs WHERE id = :id AND environment = :environment

-- name: find_idempotent_run
SELECT * FROM runs
WHERE environment = :environment AND task_id = :task_id AND idempotency_key = :idempotency_key

-- name: release_idempotency_key
UPDATE runs SET idempotency_key = NULL, idempotency_expires_at = NULL, updated_at = :now
WHERE id = :id AND idempotency_key IS NOT NULL

-- name: ensure_environment_row
-- A row to lock even when the limit comes from the process's configuration.
INSERT INTO environment_limits (environment, concurrency_limit, updated_at)
VALUES (:environment, NULL, :now)
ON CONFLICT DO NOTHING

-- name: executing_in_environment
SELECT count(*) AS running FROM runs WHERE environment = :environment AND status = 'EXECUTING'

-- name: queue_window_starts
SELECT concurrency_key, count(*) AS n FROM queue_starts
WHERE environment = :environment AND queue = :queue AND at > :since
GROUP BY concurrency_key

-- name: prune_queue_starts
DELETE FROM queue_starts WHERE environment = :environment AND queue = :queue AND at <= :before

-- name: insert_queue_start
INSERT INTO queue_starts (environment, queue, concurrency_key, at)
VALUES (:environment, :queue, :concurrency_key, :at)

-- name: set_key_cursor
UPDATE queues SET key_cursor = :cursor WHERE environment = :environment AND name = :name

-- name: insert_attempt
-- A handed-back attempt gave its number back; the next start takes the row over.
INSERT INTO attempts (run_id, number, status, lease_id, worker_id, machine, started_at)
VALUES (:run_id, :number, 'EXECUTING', :lease_id, :worker_id, :machine, :started_at)
ON CONFLICT (run_id, number) DO UPDATE SET status = 'EXECUTING', lease_id = excluded.lease_id,
    worker_id = excluded.worker_id, machine = excluded.machine,
    started_at = excluded.started_at, finished_at = NULL, error = NULL

-- name: cancel_attempts
-- Returns the attempts it ended: their time up to the cancel is charged to the run.
UPDATE attempts SET status = 'CANCELED', finished_at = :now
WHERE run_id = :run_id AND status = 'EXECUTING'
RETURNING number, machine, started_at

-- name: charge_run
-- Execution no worker reported (an attempt canceled or lost mid-run), added to the run's.
UPDATE runs SET execution_seconds = execution_seconds + :executed, cost = cost + :cost,
    updated_at = :now
WHERE id = :id

-- name: ping
SELECT 1 AS ok

-- name: finish_attempt
UPDATE attempts SET status = :status, finished_at = :now, error = :error
WHERE run_id = :run_id AND number = :number

-- name: finish_run
UPDATE runs SET status = :status, output = :output, error = :error, finished_at = :now,
    lease_id = NULL, lease_expires_at = NULL, hook_pending = :hook_pending,
    execution_seconds = execution_seconds + :executed, cost = cost + :cost, updated_at = :now
WHERE id = :id AND status = 'EXECUTING' AND lease_id = :lease_id

-- name: requeue_run
UPDATE runs SET status = 'QUEUED', available_at = :available_at, error = :error,
    machine = :machine, lease_id = NULL, lease_expires_at = NULL, worker_id = NULL,
    queued_at = :now, expires_at = NULL,
    attempt_count = attempt_count - :give_back,
    execution_seconds = execution_seconds + :executed, cost = cost + :cost, updated_at = :now
WHERE id = :id AND status = 'EXECUTING' AND lease_id = :lease_id

-- name: due_delayed
SELECT id FROM runs WHERE status = 'DELAYED' AND available_at <= :now
ORDER BY available_at LIMIT :limit

-- name: enqueue_delayed
UPDATE runs SET status = 'QUEUED', queued_at = :now, updated_at = :now,
    expires_at = CASE WHEN ttl IS NULL THEN NULL ELSE :now + ttl END
WHERE id = :id AND status = 'DELAYED'

-- name: due_expired
SELECT id, environment, task_id FROM runs
WHERE status IN ('QUEUED', 'DELAYED') AND expires_at IS NOT NULL AND expires_at <= :now
ORDER BY expires_at LIMIT :limit

-- name: reschedule_run
UPDATE runs SET status = 'DELAYED', available_at = :available_at, updated_at = :now,
    expires_at = CASE WHEN ttl IS NULL THEN NULL ELSE :available_at + ttl END
WHERE id = :id AND environment = :environment AND status IN ('DELAYED', 'QUEUED')

-- name: update_metadata
UPDATE runs SET metadata = :metadata, updated_at = :now
WHERE id = :id

-- part: events_of_run
-- Run :run_id's events: its rows, and its ``created`` event when it shares a bulk load's
-- (0033): made of its own row, with the id the load took for it. The load's first such
-- run has a ``created`` row of its own (the environment's feed moves on it), which stands.
(SELECT id, run_id, at, kind, status, attempt, data FROM run_events WHERE run_id = :run_id
 UNION ALL
 SELECT r.created_event, r.id, r.created_at, 'created', 'QUEUED', NULL, '{}' FROM runs AS r
 WHERE r.id = :run_id AND r.created_event IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM run_events AS own
                   WHERE own.run_id = r.id AND own.kind = 'created')) AS e

-- name: list_events
SELECT * FROM
-- include: events_of_run
WHERE id > :after ORDER BY id LIMIT :limit

-- name: list_events_without_kind
-- A run's events but one kind (its timeline without its many metadata changes).
SELECT * FROM
-- include: events_of_run
WHERE kind <> :kind AND id > :after ORDER BY id LIMIT :limit

-- name: list_latest_events_of_kind
SELECT * FROM run_events WHERE run_id = :run_id AND kind = :kind ORDER BY id DESC LIMIT :limit

-- name: count_events_of_kind
SELECT count(*) AS n FROM run_events WHERE run_id = :run_id AND kind = :kind

-- name: trace_mark
-- where a run's trace stands: its journal (entries, those still pending), its last log
-- line and its children's last event; any of them moving is something to show
SELECT (SELECT count(*) FROM run_journal WHERE run_id = :run_id) AS entries,
       (SELECT count(*) FROM run_journal WHERE run_id = :run_id AND status = 'pending') AS pending,
       (SELECT max(id) FROM run_logs WHERE run_id = :run_id) AS last_log,
       (SELECT max(e.id) FROM run_events e JOIN runs c ON c.id = e.run_id
        WHERE c.parent_id = :run_id) AS children

-- name: run_status_events
-- the events that moved a run (attempts starting and ending), without metadata and tags
-- changes, which can be many and change no status
SELECT * FROM
-- include: events_of_run
WHERE kind NOT IN ('metadata', 'tags') ORDER BY id LIMIT :limit

-- name: list_attempts
SELECT * FROM attempts WHERE run_id = :run_id ORDER BY number

-- name: insert_log
-- fenced like every write of an attempt: a line whose lease no longer holds the run (the
-- attempt was canceled or recovered and the run moved on) is dropped; a hook job holds
-- the run through hook_lease
INSERT INTO run_logs (run_id, attempt, at, level, message, attributes)
SELECT :run_id, :attempt, :at, :level, :message, :attributes
WHERE EXISTS (SELECT 1 FROM runs WHERE id = :run_id
              AND (lease_id = :lease_id OR hook_lease = :lease_id))

-- name: list_logs
SELECT * FROM run_logs WHERE run_id = :run_id AND id > :after ORDER BY id LIMIT :limit

-- name: upsert_task
INSERT INTO tasks (environment, id, queue, definition, updated_at)
VALUES (:environment, :id, :queue, :definition, :now)
ON CONFLICT (environment, id) DO UPDATE SET queue = excluded.queue,
    definition = excluded.definition, updated_at = excluded.updated_at

-- name: get_task
SELECT * FROM tasks WHERE environment = :environment AND id = :id

-- name: list_tasks
SELECT * FROM tasks WHERE environment = :environment ORDER BY id

-- name: list_queues
-- One grouped pass per status over its partial index (runs_claim, runs_executing), not a
-- count per queue: correlated counts rescanned every queued run of the environment per queue.
SELECT q.*, COALESCE(waiting.n, 0) AS queued, COALESCE(executing.n, 0) AS running
FROM queues q
LEFT JOIN (SELECT queue, count(*) AS n FROM runs
    WHERE environment = :environment AND status = 'QUEUED' GROUP BY queue) waiting
    ON waiting.queue = q.name
LEFT JOIN (SELECT queue, count(*) AS n FROM runs
    WHERE environment = :environment AND status = 'EXECUTING' GROUP BY queue) executing
    ON executing.queue = q.name
WHERE q.environment = :environment ORDER BY q.name

-- name: insert_api_key
INSERT INTO api_keys (id, environment, key_hash, prefix, created_at, scope)
VALUES (:id, :environment, :key_hash, :prefix, :now, :scope)

-- name: find_api_key
SELECT * FROM api_keys WHERE key_hash = :key_hash AND revoked_at IS NULL

-- name: upsert_worker
INSERT INTO workers (id, environment, hostname, pid, version, queues, concurrency, started_at,
    heartbeat_at)
VALUES (:id, :environment, :hostname, :pid, :version, :queues, :concurrency, :now, :now)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at

-- name: worker_heartbeat
UPDATE workers SET heartbeat_at = :now WHERE id = :id

-- name: set_worker_code_version
-- The version of the code the worker runs (``workers.version`` is Outlast's own).
UPDATE workers SET code_version = :code_version WHERE id = :id

-- name: set_worker_import_errors
UPDATE workers SET import_errors = :import_errors WHERE id = :id

-- name: stop_worker
UPDATE workers SET stopped_at = :now WHERE id = :id

-- name: list_workers
SELECT * FROM workers WHERE environment = :environment AND stopped_at IS NULL
    AND heartbeat_at > :since ORDER BY started_at

-- name: acquire_leader
INSERT INTO leader_leases (name, holder, expires_at) VALUES (:name, :holder, :expires_at)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leader_leases.holder = excluded.holder OR leader_leases.expires_at < :now
RETURNING holder

-- name: release_leader
DELETE FROM leader_leases WHERE name = :name AND holder = :holder

-- name: finish_hook
UPDATE runs SET hook_pending = NULL, hook_lease = NULL WHERE id = :id AND hook_lease = :lease_id

-- name: release_stale_hooks
UPDATE runs SET hook_lease = NULL
WHERE hook_lease IS NOT NULL AND hook_pending IS NOT NULL AND updated_at < :before

-- schedules ------------------------------------------------------------------------------
-- Cron schedules (engine/schedules.py) and their fired or skipped ticks (engine/ticks.py).

-- name: insert_schedule
INSERT INTO schedules (id, environment, task_id, cron, timezone, external_id, deduplication_key,
    source, active, inactive_reason, last_tick, next_tick, created_at, updated_at)
VALUES (:id, :environment, :task_id, :cron, :timezone, :external_id, :deduplication_key,
    :source, :active, :inactive_reason, NULL, :next_tick, :now, :now)
ON CONFLICT DO NOTHING

-- name: get_schedule
SELECT * FROM schedules WHERE id = :id AND environment = :environment

-- name: update_schedule
UPDATE schedules SET task_id = :task_id, cron = :cron, timezone = :timezone,
    external_id = :external_id, next_tick = :next_tick, updated_at = :now
WHERE id = :id

-- name: set_schedule_active
UPDATE schedules SET active = :active, inactive_reason = :inactive_reason,
    next_tick = :next_tick, updated_at = :now
WHERE id = :id

-- name: delete_schedule
DELETE FROM schedules WHERE id = :id AND environment = :environment

-- name: delete_schedule_ticks
DELETE FROM schedule_ticks WHERE schedule_id = :schedule_id

-- name: due_schedules
SELECT * FROM schedules WHERE active = 1 AND next_tick <= :now ORDER BY next_tick LIMIT :limit

-- name: advance_schedule
UPDATE schedules SET next_tick = :next_tick, last_tick = :last_tick, updated_at = :now
WHERE id = :id AND active = 1 AND next_tick = :expected

-- name: insert_schedule_tick
INSERT INTO schedule_ticks (schedule_id, tick, status, run_id, skipped, recorded_at)
VALUES (:schedule_id, :tick, :status, :run_id, :skipped, :now)
ON CONFLICT DO NOTHING

-- name: list_schedule_ticks
SELECT * FROM schedule_ticks WHERE schedule_id = :schedule_id ORDER BY tick DESC LIMIT :limit

-- dashboard ------------------------------------------------------------------------------
-- Reads for the dashboard's pages (server/dashboard/data.py).

-- name: dashboard_task_recent
SELECT status, execution_seconds, created_at FROM runs
WHERE environment = :environment AND task_id = :task_id
ORDER BY id DESC LIMIT :limit

-- name: dashboard_active_counts
SELECT status, count(*) AS n FROM runs
WHERE environment = :environment
  AND status IN ('DELAYED', 'QUEUED', 'EXECUTING', 'WAITING', 'PARKED')
GROUP BY status

-- name: dashboard_recent_runs
-- The overview's runs of the last hour, newest first, read as one range of
-- runs_env_created_at. In id order, a prepared statement's generic plan (which knows
-- neither the hour nor how few runs it holds) walked runs_pkey from its end and stepped
-- over every older run: 0.5-6.5 s at 1,000,000 runs on PostgreSQL.
SELECT status, created_at, finished_at, execution_seconds FROM runs
WHERE environment = :environment AND created_at >= :since
ORDER BY created_at DESC LIMIT :limit

-- durable execution ----------------------------------------------------------------------

-- name: complete_journal
UPDATE run_journal SET status = :status, result = :result, error = :error, completed_at = :now
WHERE run_id = :run_id AND seq = :seq AND status = 'pending'

-- name: list_journal
SELECT * FROM run_journal WHERE run_id = :run_id ORDER BY seq

-- name: insert_waitpoint
INSERT INTO waitpoints (id, environment, kind, status, run_id, seq, idx, due_at, child_run_id,
    secret_hash, tags, idempotency_key, created_by_run, created_at)
VALUES (:id, :environment, :kind, 'PENDING', :run_id, :seq, :idx, :due_at, :child_run_id,
    :secret_hash, :tags, :idempotency_key, :created_by_run, :now)

-- name: find_idempotent_waitpoint
SELECT * FROM waitpoints WHERE environment = :environment AND idempotency_key = :idempotency_key

-- name: block_on_waitpoint
UPDATE waitpoints SET run_id = :run_id, seq = :seq WHERE id = :id AND run_id IS NULL

-- name: complete_waitpoint
UPDATE waitpoints SET status = 'COMPLETED', output = :output, error = :error, completed_at = :now
WHERE id = :id AND status = 'PENDING'

-- name: waitpoints_for
SELECT * FROM waitpoints WHERE run_id = :run_id AND seq = :seq ORDER BY idx

-- name: run_waitpoints
-- every waitpoint a run blocks or blocked on (its trace: sleeps, tokens, child runs)
SELECT * FROM waitpoints WHERE run_id = :run_id ORDER BY seq, idx LIMIT :limit

-- name: pending_journal
SELECT seq FROM run_journal WHERE run_id = :run_id AND status = 'pending' ORDER BY seq

-- name: child_waitpoints
SELECT id FROM waitpoints WHERE child_run_id = :child_run_id AND status = 'PENDING'

-- name: complete_settled_journal
-- A wait's journal entry gets its result once no waitpoint at its (run, seq) is pending.
UPDATE run_journal SET status = :status, result = :result, error = NULL, completed_at = :now
WHERE run_id = :run_id AND seq = :seq AND status = 'pending'
  AND NOT EXISTS (SELECT 1 FROM waitpoints w
                  WHERE w.run_id = :run_id AND w.seq = :seq AND w.status = 'PENDING')

-- name: suspend_run
UPDATE runs SET status = 'WAITING', lease_id = NULL, lease_expires_at = NULL, worker_id = NULL,
    attempt_count = attempt_count - 1, execution_seconds = execution_seconds + :executed,
    cost = cost + :cost, updated_at = :now
WHERE id = :id AND status = 'EXECUTING' AND lease_id = :lease_id

-- name: resume_run
UPDATE runs SET status = 'QUEUED', available_at = :now, queued_at = :now, updated_at = :now
WHERE id = :id AND status = 'WAITING'

-- name: park_run
-- The attempt's number is given back, as for a suspend: a parked run spends no retry.
UPDATE runs SET status = 'PARKED', parked = :parked, lease_id = NULL, lease_expires_at = NULL,
    worker_id = NULL, attempt_count = attempt_count - 1,
    execution_seconds = execution_seconds + :executed, cost = cost + :cost, updated_at = :now
WHERE id = :id AND status = 'EXECUTING' AND lease_id = :lease_id

-- name: unpark_run
UPDATE runs SET status = 'QUEUED', parked = NULL, version = coalesce(:version, version),
    available_at = :now, queued_at = :now, updated_at = :now
WHERE id = :id AND status = 'PARKED'

-- name: set_run_version
-- A run no attempt holds, not final and not parked (a parked one moves by ``unpark_run``).
UPDATE runs SET version = :version, updated_at = :now
WHERE id = :id AND status IN ('DELAYED', 'QUEUED', 'WAITING')

-- name: active_children
SELECT id FROM runs
WHERE parent_id = :id AND status IN ('DELAYED', 'QUEUED', 'EXECUTING', 'WAITING', 'PARKED')

-- name: next_due
SELECT min(t) AS at FROM (
    SELECT min(due_at) AS t FROM waitpoints WHERE status = 'PENDING' AND due_at IS NOT NULL
        AND (:tokens = 1 OR kind <> 'token')
    UNION ALL
    SELECT min(available_at) FROM runs
    WHERE environment = :environment AND status IN ('DELAYED', 'QUEUED') AND available_at > :now
    UNION ALL
    SELECT min(expires_at) FROM runs
    WHERE environment = :environment AND status IN ('DELAYED', 'QUEUED') AND expires_at IS NOT NULL
) AS due

-- name: upkeep_next_due
-- The next moment upkeep has work: a due sleep or wait timeout, a delayed run's start, a
-- TTL's end, a cron tick, a lease running out. Each part reads one partial index.
SELECT min(t) AS at FROM (
    SELECT min(due_at) AS t FROM waitpoints WHERE status = 'PENDING' AND due_at IS NOT NULL
    UNION ALL
    SELECT min(available_at) FROM runs WHERE status = 'DELAYED'
    UNION ALL
    SELECT min(expires_at) FROM runs
    WHERE status IN ('QUEUED', 'DELAYED') AND expires_at IS NOT NULL
    UNION ALL
    SELECT min(next_tick) FROM schedules WHERE active = 1
    UNION ALL
    SELECT min(lease_expires_at) FROM runs WHERE status = 'EXECUTING'
) AS due

-- realtime ----------------------------------------------------------------------------
-- metadata, stream chunks, subscriptions, key management, public-token secrets, alerts

-- name: realtime_last_event
SELECT max(id) AS id FROM run_events WHERE run_id = :run_id

-- name: realtime_newest_event
SELECT max(id) AS id FROM run_events

-- name: realtime_env_last_event
-- The newest event of the environment's runs after ``after``: events are scanned from the
-- cursor on (the primary key), so each call reads only what is new.
SELECT max(e.id) AS id FROM run_events AS e JOIN runs AS r ON r.id = e.run_id
WHERE e.id > :after AND r.environment = :environment

-- name: realtime_tag_events
SELECT e.id, e.run_id FROM run_events e
JOIN run_tags t ON t.run_id = e.run_id
WHERE t.environment = :environment AND t.tag = :tag AND e.id > :after
ORDER BY e.id
LIMIT :limit

-- name: realtime_tag_latest
SELECT t.run_id, (SELECT max(e.id) FROM run_events e WHERE e.run_id = t.run_id) AS id
FROM run_tags t
WHERE t.environment = :environment AND t.tag = :tag
ORDER BY t.run_id DESC
LIMIT :limit

-- name: realtime_max_event
SELECT max(id) AS id FROM run_events

-- name: settled_max_event
-- The highest event id in (after, upto] written at or before :settled: ids are handed out
-- at insert but become visible at commit, so a cursor must not pass fresher ones.
SELECT max(id) AS id FROM run_events WHERE id > :after AND id <= :upto AND at <= :settled

-- name: stream_last_seq
SELECT max(seq) AS seq FROM run_stream_chunks WHERE run_id = :run_id AND key = :key

-- name: insert_stream_chunk
INSERT INTO run_stream_chunks (run_id, key, seq, chunk, created_at)
VALUES (:run_id, :key, :seq, :chunk, :now)

-- name: list_stream_chunks
SELECT seq, chunk FROM run_stream_chunks
WHERE run_id = :run_id AND key = :key AND seq > :after
ORDER BY seq
LIMIT :limit

-- name: get_server_secret
SELECT value FROM server_secrets WHERE name = :name

-- name: insert_server_secret
INSERT INTO server_secrets (name, value, created_at) VALUES (:name, :value, :now)
ON CONFLICT (name) DO NOTHING

-- name: insert_dashboard_session
INSERT INTO dashboard_sessions (id, environment, created_at, expires_at)
VALUES (:id, :environment, :now, :expires_at)

-- name: dashboard_session_live
SELECT id FROM dashboard_sessions WHERE id = :id AND expires_at > :now

-- name: delete_dashboard_session
DELETE FROM dashboard_sessions WHERE id = :id

-- name: delete_expired_dashboard_sessions
DELETE FROM dashboard_sessions WHERE expires_at <= :now

-- name: revoke_api_key
UPDATE api_keys SET revoked_at = :now
WHERE (id = :key OR prefix = :key) AND revoked_at IS NULL

-- name: get_alert_cursor
SELECT event_id FROM alert_cursor WHERE name = :name

-- name: set_alert_cursor
INSERT INTO alert_cursor (name, event_id) VALUES (:name, :event_id)
ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id

-- name: failure_events
SELECT e.id, e.run_id, e.status, e.at, r.environment, r.task_id, r.error, r.tags,
       r.attempt_count
FROM run_events e JOIN runs r ON r.id = e.run_id
WHERE e.id > :after AND e.id <= :upto AND e.status IN ('FAILED', 'CRASHED', 'TIMED_OUT')
ORDER BY e.id

-- name: insert_alert
INSERT INTO alert_outbox (environment, run_id, event_id, body, next_at, created_at)
VALUES (:environment, :run_id, :event_id, :body, :now, :now)
ON CONFLICT (event_id) DO NOTHING

-- name: due_alerts
SELECT * FROM alert_outbox
WHERE delivered_at IS NULL AND next_at <= :now
ORDER BY next_at, id
LIMIT :limit

-- name: alert_delivered
UPDATE alert_outbox SET delivered_at = :now, attempts = attempts + 1, last_error = NULL
WHERE id = :id

-- name: alert_retry
UPDATE alert_outbox SET attempts = attempts + 1, next_at = :next_at, last_error = :error,
       delivered_at = :gave_up
WHERE id = :id

-- name: list_alerts
SELECT * FROM alert_outbox WHERE environment = :environment ORDER BY id DESC LIMIT :limit

-- name: get_alert_webhook
SELECT * FROM alert_webhooks WHERE environment = :environment

-- name: list_alert_webhooks
SELECT * FROM alert_webhooks ORDER BY environment

-- name: upsert_alert_webhook
INSERT INTO alert_webhooks (environment, url, secret, created_at)
VALUES (:environment, :url, :secret, :now)
ON CONFLICT (environment) DO UPDATE SET url = excluded.url, secret = excluded.secret

-- name: delete_alert_webhook
DELETE FROM alert_webhooks WHERE environment = :environment

-- name: get_queue
SELECT * FROM queues WHERE environment = :environment AND name = :name

-- name: sync_queue
-- A worker's code declares its queues: ``code_limits`` is what the code says, the limit
-- columns are that merged with the operator's overrides (computed by engine/queues.py),
-- so a restart never undoes an override.
INSERT INTO queues (environment, name, concurrency_limit, total_limit, rate_limit, key_rate_limit,
    code_limits, paused, updated_at)
VALUES (:environment, :name, :concurrency_limit, :total_limit, :rate_limit, :key_rate_limit,
    :code_limits, 0, :now)
ON CONFLICT (environment, name) DO UPDATE SET concurrency_limit = excluded.concurrency_limit,
    total_limit = excluded.total_limit, rate_limit = excluded.rate_limit,
    key_rate_limit = excluded.key_rate_limit, code_limits = excluded.code_limits,
    updated_at = excluded.updated_at

-- name: set_queue_paused
UPDATE queues SET paused = :paused, updated_at = :now
WHERE environment = :environment AND name = :name

-- name: set_queue_limits
UPDATE queues SET concurrency_limit = :concurrency_limit, total_limit = :total_limit,
    rate_limit = :rate_limit, key_rate_limit = :key_rate_limit, overrides = :overrides,
    updated_at = :now
WHERE environment = :environment AND name = :name

-- name: queue_counts
SELECT
    (SELECT count(*) FROM runs WHERE environment = :environment AND queue = :name
        AND status = 'QUEUED') AS queued,
    (SELECT count(*) FROM runs WHERE environment = :environment AND queue = :name
        AND status = 'EXECUTING') AS running

-- name: get_environment_limit
SELECT concurrency_limit, updated_at FROM environment_limits WHERE environment = :environment

-- name: set_environment_limit
INSERT INTO environment_limits (environment, concurrency_limit, updated_at)
VALUES (:environment, :concurrency_limit, :now)
ON CONFLICT (environment) DO UPDATE SET concurrency_limit = excluded.concurrency_limit,
    updated_at = excluded.updated_at

-- name: insert_debounce
INSERT INTO debounces (environment, task_id, key, run_id, mode, first_at, last_at)
VALUES (:environment, :task_id, :key, :run_id, :mode, :now, :now)
ON CONFLICT DO NOTHING

-- name: restart_debounce
UPDATE debounces SET run_id = :run_id, mode = :mode, first_at = :now, last_at = :now
WHERE environment = :environment AND task_id = :task_id AND key = :key

-- name: touch_debounce
UPDATE debounces SET last_at = :now
WHERE environment = :environment AND task_id = :task_id AND key = :key

-- name: debounce_postpone
-- Trailing debounce: the newest payload replaces the waiting run's and its start moves
-- later. Guarded on DELAYED and not yet due: once the run is due, queued or started it is
-- left alone and the trigger makes a new run instead.
UPDATE runs SET payload = :payload, available_at = :available_at,
    expires_at = CASE WHEN ttl IS NULL THEN NULL ELSE :available_at + ttl END, updated_at = :now
WHERE id = :id AND status = 'DELAYED' AND available_at > :now
RETURNING *

-- metadata and tags

-- name: update_run_tags
-- The JSON copy of a run's tags that snapshots show; ``run_tags`` rows are added beside it.
UPDATE runs SET tags = :tags, updated_at = :now
WHERE id = :id

-- version administration (``engine/version_admin.py``)

-- name: list_versions
SELECT * FROM versions WHERE environment = :environment
ORDER BY created_at DESC, version DESC

-- name: lock_version
SELECT * FROM versions WHERE environment = :environment AND version = :version

-- name: version_tasks_of_environment
SELECT version, task_id FROM version_tasks WHERE environment = :environment
ORDER BY version, task_id

-- name: version_task_definitions
SELECT task_id, definition FROM version_tasks
WHERE environment = :environment AND version = :version
ORDER BY task_id

-- name: pinned_run_counts
-- Runs pinned to each version that are not final yet, by status: what keeps a version's
-- workers needed. Final statuses are listed (not active ones), so a new active status is
-- counted without changing this.
SELECT version, status, count(*) AS n FROM runs
WHERE environment = :environment AND version IS NOT NULL
    AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                       'EXPIRED', 'TIMED_OUT')
GROUP BY version, status

-- name: pinned_active_run
-- Any run pinned to the version that is not final: the version is not drained.
SELECT id FROM runs
WHERE environment = :environment AND version = :version
    AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                       'EXPIRED', 'TIMED_OUT')
LIMIT 1

-- name: retire_version
UPDATE versions SET state = 'retired', retired_at = :now
WHERE environment = :environment AND version = :version AND state <> 'current'

-- versions

-- name: get_version
SELECT * FROM versions WHERE environment = :environment AND version = :version

-- name: current_version
SELECT * FROM versions WHERE environment = :environment AND state = 'current'

-- name: insert_version
-- A version seen for the first time starts out draining; registering promotes it after,
-- when the rule says so (``engine/versions.py``).
INSERT INTO versions (environment, version, state, source, created_at)
VALUES (:environment, :version, 'draining', :source, :now)
ON CONFLICT (environment, version) DO NOTHING

-- name: demote_current_version
-- Before another version becomes current: at most one is (versions_current).
UPDATE versions SET state = 'draining'
WHERE environment = :environment AND state = 'current' AND version <> :version

-- name: promote_version
UPDATE versions SET state = 'current', promoted_at = :now, retired_at = NULL
WHERE environment = :environment AND version = :version

-- name: deploy_managed
-- Versions are made current by ``outlast deploy`` in this environment, not by workers.
SELECT 1 AS managed FROM versions
WHERE environment = :environment AND source = 'deploy'
LIMIT 1

-- name: upsert_version_task
-- A version's tasks are what its workers registered, together: one whose task file failed
-- to import does not take the task away from the version.
INSERT INTO version_tasks (environment, version, task_id, definition)
VALUES (:environment, :version, :task_id, :definition)
ON CONFLICT (environment, version, task_id) DO UPDATE SET definition = excluded.definition

-- name: version_task_ids
SELECT task_id FROM version_tasks
WHERE environment = :environment AND version = :version
ORDER BY task_id

-- name: set_version_source
-- ``outlast deploy`` of a version a worker registered first: it is deployed now, and the
-- environment's versions are managed by deploys from then on (deploy_managed).
UPDATE versions SET source = :source
WHERE environment = :environment AND version = :version

-- name: dev_runs_to_follow
-- ``outlast dev`` reloaded: its unfinished runs pinned to an earlier reload of the
-- environment follow the newest code (``engine/versions.py``, ``follow_reload``).
SELECT id, status, version FROM runs
WHERE environment = :environment AND version <> :version
    AND version IN (SELECT version FROM versions
                    WHERE environment = :environment AND source = 'dev')
    AND status NOT IN ('COMPLETED', 'FAILED', 'CANCELED', 'CRASHED', 'SYSTEM_FAILURE',
                       'EXPIRED', 'TIMED_OUT')
ORDER BY id

-- name: follow_version
-- One run of ``dev_runs_to_follow`` pinned to the new reload, whatever its status.
UPDATE runs SET version = :version, updated_at = :now
WHERE id = :id AND version = :previous

-- retention ---------------------------------------------------------------------------
-- Finding finished runs whose time is up and deleting them with everything of theirs
-- (engine/pruning.py). Lists of ids are per dialect; these read no list.

-- name: retention_environments
-- Every environment with runs: a loose index scan (one seek per environment), not a
-- read of every run.
WITH RECURSIVE envs(environment) AS (
    SELECT min(environment) FROM runs
    UNION ALL
    SELECT (SELECT min(r.environment) FROM runs r WHERE r.environment > envs.environment)
    FROM envs WHERE envs.environment IS NOT NULL
)
SELECT environment FROM envs WHERE environment IS NOT NULL

-- name: retention_task_ids
-- Every task with runs in an environment, registered or not (one seek per task).
WITH RECURSIVE tasks_seen(task_id) AS (
    SELECT min(task_id) FROM runs WHERE environment = :environment
    UNION ALL
    SELECT (SELECT min(r.task_id) FROM runs r
            WHERE r.environment = :environment AND r.task_id > tasks_seen.task_id)
    FROM tasks_seen WHERE tasks_seen.task_id IS NOT NULL
)
SELECT task_id FROM tasks_seen WHERE task_id IS NOT NULL

-- name: retention_record_pass
INSERT INTO retention_status (environment, pruned_at, runs, total_runs)
VALUES (:environment, :now, :runs, :runs)
ON CONFLICT (environment) DO UPDATE SET pruned_at = excluded.pruned_at,
    runs = excluded.runs, total_runs = retention_status.total_runs + excluded.runs

-- name: retention_status
SELECT * FROM retention_status ORDER BY environment

-- metrics and health (``engine/metrics.py``, ``engine/health.py``) -------------------------
-- What ``GET /metrics`` reads. Each count reads live rows only, through a status or
-- partial index, so a scrape costs the same beside a million finished runs as beside none.

-- name: metrics_environments
-- The environments with anything to report: a queue (every run has one) or a live worker.
SELECT environment FROM queues
UNION
SELECT environment FROM workers WHERE stopped_at IS NULL

-- name: metrics_live_runs
SELECT task_id, status, count(*) AS n FROM runs
WHERE environment = :environment
  AND status IN ('DELAYED', 'QUEUED', 'EXECUTING', 'WAITING', 'PARKED')
GROUP BY task_id, status

-- name: metrics_queues
-- Every queue, with its QUEUED runs (runs_claim) and the earliest moment one of them
-- became claimable: a retry's backoff end, a resume, a trigger.
SELECT q.name, COALESCE(w.n, 0) AS depth, w.oldest
FROM queues q
LEFT JOIN (SELECT queue, count(*) AS n, min(available_at) AS oldest FROM runs
    WHERE environment = :environment AND status = 'QUEUED' GROUP BY queue) w
    ON w.queue = q.name
WHERE q.environment = :environment
ORDER BY q.name

-- name: metrics_workers
SELECT COALESCE(code_version, '') AS version, count(*) AS n, sum(concurrency) AS slots
FROM workers
WHERE environment = :environment AND stopped_at IS NULL AND heartbeat_at > :since
GROUP BY COALESCE(code_version, '')

-- name: metrics_waits
-- Pending waitpoints per kind, each count one prefix of waitpoints_list (an IN over the
-- kinds would read every completed waitpoint of the environment as well).
SELECT 'time' AS kind, count(*) AS n FROM waitpoints
WHERE environment = :environment AND kind = 'time' AND status = 'PENDING'
UNION ALL
SELECT 'token', count(*) FROM waitpoints
WHERE environment = :environment AND kind = 'token' AND status = 'PENDING'
UNION ALL
SELECT 'run', count(*) FROM waitpoints
WHERE environment = :environment AND kind = 'run' AND status = 'PENDING'

-- name: metrics_lease
SELECT holder, expires_at FROM leader_leases WHERE name = :name

-- name: metrics_events
-- Attempt starts and run ends in (after, upto]: a range of the primary key, so each
-- scrape reads what happened since the one before, never the history.
SELECT e.kind, e.at, e.status, r.environment, r.task_id, r.queue, r.execution_seconds,
       r.started_at, r.queued_at, r.available_at
FROM run_events e JOIN runs r ON r.id = e.run_id
WHERE e.id > :after AND e.id <= :upto
  AND e.kind IN ('start_attempt', 'complete', 'fail', 'crash', 'time_out', 'system_failure',
                 'cancel', 'expire')
ORDER BY e.id

-- name: applied_migrations
SELECT name FROM outlast_migrations

-- errors ---------------------------------------------------------------------------------
-- Failed attempts grouped by fingerprint (engine/failures.py, the Errors page). Every read
-- goes through run_errors_window (a window of time) or run_errors_group (one group).

-- name: insert_run_error
INSERT INTO run_errors (environment, task_id, fingerprint, error_type, message, run_id,
    attempt, final, version, at)
VALUES (:environment, :task_id, :fingerprint, :error_type, :message, :run_id, :attempt,
    :final, :version, :at)

-- name: error_group_latest
-- One group's newest occurrence (its title) and its first: two seeks on run_errors_group.
SELECT l.fingerprint, l.task_id, l.error_type, l.message, l.run_id, l.at AS last_seen,
    (SELECT min(f.at) FROM run_errors f
     WHERE f.environment = :environment AND f.fingerprint = :fingerprint) AS first_seen
FROM run_errors l
WHERE l.environment = :environment AND l.fingerprint = :fingerprint
ORDER BY l.at DESC
LIMIT 1

-- name: error_occurrences
-- A group's newest occurrences, each with its attempt's full error (the stack) and its
-- run's status now.
SELECT e.run_id, e.attempt, e.final, e.version, e.at, e.message, a.error AS attempt_error,
    r.status AS run_status
FROM run_errors e
LEFT JOIN attempts a ON a.run_id = e.run_id AND a.number = e.attempt
LEFT JOIN runs r ON r.id = e.run_id
WHERE e.environment = :environment AND e.fingerprint = :fingerprint
ORDER BY e.at DESC
LIMIT :limit

-- bulk actions (``engine/bulk.py``, ``engine/bulk_work.py``) --------------------------------
-- Every write of a running action is guarded on its status and on ``batches``, the number
-- of batches written so far, as read by the writer (migration 0022).

-- name: insert_bulk_action
INSERT INTO bulk_actions (id, environment, action, filter, payload, status, phase, total,
    created_at, updated_at)
VALUES (:id, :environment, :action, :filter, :payload, 'PENDING', :phase, :total, :now, :now)

-- name: insert_bulk_item
INSERT INTO bulk_action_items (bulk_action_id, run_id) VALUES (:bulk_action_id, :run_id)
ON CONFLICT DO NOTHING

-- name: get_bulk_action
SELECT * FROM bulk_actions WHERE id = :id AND environment = :environment

-- name: list_bulk_actions
SELECT * FROM bulk_actions
WHERE environment = :environment AND (CAST(:cursor AS TEXT) IS NULL OR id < :cursor)
ORDER BY id DESC
LIMIT :limit

-- name: active_bulk_actions
-- The actions upkeep has to move on, oldest first (a partial index holds only these).
SELECT * FROM bulk_actions WHERE status IN ('PENDING', 'RUNNING') ORDER BY id LIMIT :limit

-- name: start_bulk_action
UPDATE bulk_actions SET status = 'RUNNING', started_at = :now, updated_at = :now,
    batches = batches + 1
WHERE id = :id AND status = 'PENDING' AND batches = :batches

-- name: bulk_snapshot_step
UPDATE bulk_actions SET snapshot_cursor = :snapshot_cursor, total = total + :added,
    batches = batches + 1, updated_at = :now
WHERE id = :id AND status = 'RUNNING' AND batches = :batches

-- name: bulk_snapshot_done
UPDATE bulk_actions SET phase = 'process', snapshot_cursor = NULL, total = :total,
    batches = batches + 1, updated_at = :now
WHERE id = :id AND status = 'RUNNING' AND batches = :batches

-- name: count_bulk_items
SELECT count(*) AS n FROM bulk_action_items WHERE bulk_action_id = :bulk_action_id

-- name: next_bulk_items
SELECT run_id FROM bulk_action_items
WHERE bulk_action_id = :bulk_action_id AND run_id > :cursor
ORDER BY run_id
LIMIT :limit

-- name: bulk_process_step
UPDATE bulk_actions SET cursor = :cursor, processed = processed + :processed,
    succeeded = succeeded + :succeeded, skipped = skipped + :skipped, failed = failed + :failed,
    errors = :errors, batches = batches + 1, updated_at = :now
WHERE id = :id AND status = 'RUNNING' AND batches = :batches

-- name: delete_bulk_items_upto
DELETE FROM bulk_action_items WHERE bulk_action_id = :bulk_action_id AND run_id <= :cursor

-- name: delete_bulk_items
DELETE FROM bulk_action_items WHERE bulk_action_id = :bulk_action_id

-- name: complete_bulk_action
UPDATE bulk_actions SET status = 'COMPLETED', finished_at = :now, updated_at = :now,
    batches = batches + 1
WHERE id = :id AND status = 'RUNNING' AND batches = :batches

-- name: end_bulk_action
-- Abort (by a caller) or fail (the filter no longer lists): from any unfinished status.
UPDATE bulk_actions SET status = :status, message = :message, finished_at = :now,
    updated_at = :now, batches = batches + 1
WHERE id = :id AND status IN ('PENDING', 'RUNNING')

-- blobs (``store/blobs``) -----------------------------------------------------------------
-- The table blob store (PostgreSQL's default) on its own connection: a value in parts of at
-- most 1 MiB, written before the row that references it commits; deleted with its run.

-- name: blob_put_part
INSERT INTO blobs (key, part, run_id, data, created_at)
VALUES (:key, :part, :run_id, :data, :now)
ON CONFLICT (key, part) DO UPDATE SET data = excluded.data

-- name: blob_parts
SELECT part, data FROM blobs WHERE key = :key AND part >= :first ORDER BY part LIMIT :limit

-- name: blob_delete_run
DELETE FROM blobs WHERE run_id = :run_id

-- name: blob_owners_before
SELECT DISTINCT run_id FROM blobs WHERE created_at <= :before ORDER BY run_id

-- name: oldest_finished_run
-- The finished run retention has kept longest in an environment: the first entry of
-- runs_env_finished read from its far end, however many runs there are.
SELECT id, finished_at FROM runs
WHERE environment = :environment AND finished_at IS NOT NULL
ORDER BY finished_at, id
LIMIT 1
