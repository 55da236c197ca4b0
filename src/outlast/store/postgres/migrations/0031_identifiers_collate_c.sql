-- Identifiers and names compare byte by byte (COLLATE "C"), as SQLite compares all text.
--
-- Every run writes some twenty index entries in its life (its trigger, its claim, its
-- end), most of them keyed by text: ids, the environment, the task, the queue, the status.
-- Under the database's default collation each comparison on the way down a B-tree calls
-- the C library's strcoll (for every locale but "C" and "POSIX", "C.UTF-8" included);
-- under "C" it is a memcmp. Inserting rows into six such indexes costs the backend 0.91x
-- the CPU on a C.UTF-8 database and 0.71x on an ICU en-US one (bench/collation_inserts.py:
-- 14.1 against 15.5 µs a row, 12.3 against 17.4; medians of eight alternating loads). A
-- worker's drain passes spend 0.91-0.94x the backend CPU per run on the C.UTF-8 one
-- (bench/drain_interleaved.py).
--
-- The columns changed are those that name or identify: ids, environments, tasks, queues,
-- statuses, versions, keys, tags. Each table's changed at once, so that no comparison
-- mixes two collations (PostgreSQL refuses ``=`` between a "C" column and a default one).
-- The free text stays in the database's collation: payloads, outputs, errors, messages
-- and JSON documents, which no index holds and whose search (``lower(payload)``) folds
-- case by the database's own rules. The order a list sorts by these columns is byte
-- order, as on SQLite: an uppercase task id before a lowercase one.
--
-- Only the indexes holding these columns are rebuilt (the change of a collation rewrites
-- no table), under the lock of this migration: on a large database, migrate in a quiet
-- moment. A text column added to these tables later names its collation the same way.
ALTER TABLE runs
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C",
    ALTER COLUMN queue TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN concurrency_key TYPE text COLLATE "C",
    ALTER COLUMN idempotency_key TYPE text COLLATE "C",
    ALTER COLUMN machine TYPE text COLLATE "C",
    ALTER COLUMN lease_id TYPE text COLLATE "C",
    ALTER COLUMN worker_id TYPE text COLLATE "C",
    ALTER COLUMN parent_id TYPE text COLLATE "C",
    ALTER COLUMN root_id TYPE text COLLATE "C",
    ALTER COLUMN batch_id TYPE text COLLATE "C",
    ALTER COLUMN replayed_from TYPE text COLLATE "C",
    ALTER COLUMN hook_pending TYPE text COLLATE "C",
    ALTER COLUMN hook_lease TYPE text COLLATE "C",
    ALTER COLUMN version TYPE text COLLATE "C";
ALTER TABLE attempts
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN lease_id TYPE text COLLATE "C",
    ALTER COLUMN worker_id TYPE text COLLATE "C",
    ALTER COLUMN machine TYPE text COLLATE "C";
ALTER TABLE run_events
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C";
ALTER TABLE run_tags
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN tag TYPE text COLLATE "C";
ALTER TABLE run_journal
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C";
ALTER TABLE run_logs
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN level TYPE text COLLATE "C";
ALTER TABLE run_stream_chunks
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN key TYPE text COLLATE "C";
ALTER TABLE run_errors
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C",
    ALTER COLUMN fingerprint TYPE text COLLATE "C",
    ALTER COLUMN error_type TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN version TYPE text COLLATE "C";
ALTER TABLE waitpoints
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN kind TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN child_run_id TYPE text COLLATE "C",
    ALTER COLUMN idempotency_key TYPE text COLLATE "C",
    ALTER COLUMN created_by_run TYPE text COLLATE "C",
    ALTER COLUMN secret_hash TYPE text COLLATE "C";
ALTER TABLE debounces
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C",
    ALTER COLUMN key TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C",
    ALTER COLUMN mode TYPE text COLLATE "C";
ALTER TABLE blobs
    ALTER COLUMN key TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C";
ALTER TABLE schedule_ticks
    ALTER COLUMN schedule_id TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C";
ALTER TABLE schedules
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C",
    ALTER COLUMN external_id TYPE text COLLATE "C",
    ALTER COLUMN deduplication_key TYPE text COLLATE "C",
    ALTER COLUMN source TYPE text COLLATE "C";
ALTER TABLE tasks
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN queue TYPE text COLLATE "C";
ALTER TABLE version_tasks
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN version TYPE text COLLATE "C",
    ALTER COLUMN task_id TYPE text COLLATE "C";
ALTER TABLE versions
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN version TYPE text COLLATE "C",
    ALTER COLUMN state TYPE text COLLATE "C",
    ALTER COLUMN source TYPE text COLLATE "C";
ALTER TABLE queues
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN key_cursor TYPE text COLLATE "C";
ALTER TABLE queue_starts
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN queue TYPE text COLLATE "C",
    ALTER COLUMN concurrency_key TYPE text COLLATE "C";
ALTER TABLE environment_limits
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE retention_status
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE workers
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN hostname TYPE text COLLATE "C",
    ALTER COLUMN version TYPE text COLLATE "C",
    ALTER COLUMN code_version TYPE text COLLATE "C";
ALTER TABLE bulk_actions
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN action TYPE text COLLATE "C",
    ALTER COLUMN status TYPE text COLLATE "C",
    ALTER COLUMN phase TYPE text COLLATE "C",
    ALTER COLUMN cursor TYPE text COLLATE "C",
    ALTER COLUMN snapshot_cursor TYPE text COLLATE "C";
ALTER TABLE bulk_action_items
    ALTER COLUMN bulk_action_id TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C";
ALTER TABLE api_keys
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN key_hash TYPE text COLLATE "C",
    ALTER COLUMN prefix TYPE text COLLATE "C",
    ALTER COLUMN scope TYPE text COLLATE "C";
ALTER TABLE dashboard_sessions
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE alert_outbox
    ALTER COLUMN environment TYPE text COLLATE "C",
    ALTER COLUMN run_id TYPE text COLLATE "C";
ALTER TABLE alert_webhooks
    ALTER COLUMN environment TYPE text COLLATE "C";
ALTER TABLE alert_cursor
    ALTER COLUMN name TYPE text COLLATE "C";
ALTER TABLE leader_leases
    ALTER COLUMN name TYPE text COLLATE "C",
    ALTER COLUMN holder TYPE text COLLATE "C";
ALTER TABLE server_secrets
    ALTER COLUMN name TYPE text COLLATE "C";
