-- The runs list's indexes leave QUEUED runs out too; runs_queued holds those (PostgreSQL).
--
-- A run loaded by ``batch_trigger`` (binary COPY, ``load_runs``) entered 10 indexes of
-- runs, six of them the list's: its COPY cost 18.6-22.8 µs a run against 7.3-7.9 without
-- those six (bench/run_index_costs.py, 100,000 queued runs, 5,000-run loads), pgqueuer's
-- 8.5-9. Five of them now leave QUEUED runs out, as 0028 left EXECUTING runs out, and one
-- index holds only the QUEUED runs: runs_queued, (environment, task_id, queue, id DESC).
-- A queued run enters 6 indexes instead of 10: its COPY costs 0.58x (median of four
-- alternating pairs: 12.3 µs against 21.7), and bulk triggering runs 1.22-1.28x as fast.
--
-- runs_queued answers every list shape that read the five: a task and queue as one range
-- in id order; a task, a queue, or neither through a skip scan over the (task, queue)
-- pairs that have QUEUED runs (one seek each) and, per pair, its newest runs in id order,
-- which a page merges (postgres/queries.sql, list_runs with ``queued``). A backlog of one
-- task or queue is never read whole nor sorted to list another's runs or the first page
-- of its own. Without the queue column a queue's page would step over a backlog of its
-- task in other queues, and without the task a task's page over another task's backlog;
-- (environment, id DESC) alone would do both. The queue column costs a load nothing
-- measurable (11.6 µs a run with or without it).
--
-- runs_env_created_at keeps the QUEUED runs: a time range is listed, and the overview's
-- last hour read, in created_at order, which no id-ordered index gives (a run's id and
-- its created_at come from different clocks and calls), and it costs a load 0.7-1.6 µs a
-- run. runs_env_started and runs_env_finished hold only runs that started or finished.
--
-- As in 0028, every query that is to read one of the five says ``status <> 'QUEUED'`` in
-- its own text (a generic plan cannot prove it from a status given as a parameter), and
-- reads the QUEUED runs apart: the runs list (engine/listing.py, ``Tx.statuses_apart``),
-- the dashboard's and the metrics' counts and task page, and retention's skip scans
-- (which remove no QUEUED run).
DROP INDEX runs_env_created;
CREATE INDEX runs_env_created ON runs (environment, id DESC)
    WHERE status <> 'EXECUTING' AND status <> 'QUEUED';
DROP INDEX runs_env_status;
CREATE INDEX runs_env_status ON runs (environment, status, id DESC)
    WHERE status <> 'EXECUTING' AND status <> 'QUEUED';
DROP INDEX runs_env_task;
CREATE INDEX runs_env_task ON runs (environment, task_id, id DESC)
    WHERE status <> 'EXECUTING' AND status <> 'QUEUED';
DROP INDEX runs_env_task_status;
CREATE INDEX runs_env_task_status ON runs (environment, task_id, status, id DESC)
    WHERE status <> 'EXECUTING' AND status <> 'QUEUED';
-- Led by the environment now, as the others are: a page of a queue is read in
-- (environment, id) order (list_runs, ``by_env_id``). 0013 left the environment out for
-- SQLite's planner, which took it over the claim's partial indexes; QUEUED runs, the
-- claim's, are not in this one, and SQLite keeps its own.
DROP INDEX runs_queue;
CREATE INDEX runs_queue ON runs (environment, queue, id DESC)
    WHERE status <> 'EXECUTING' AND status <> 'QUEUED';
CREATE INDEX runs_queued ON runs (environment, task_id, queue, id DESC)
    WHERE status = 'QUEUED';
