-- Runs loaded in bulk share one ``created`` event.
--
-- A batch's queued runs without tags were each given a ``created`` row in run_events: a
-- heap row, two B-tree entries and their WAL, 290 of the 1,230 bytes of WAL a loaded run
-- wrote, and the statement that inserted them ran after the load, while the client waited.
-- Now the load writes one row, for its first such run, and each of them holds that event's
-- id: the timeline and the realtime feed read a run's ``created`` event from its own row
-- (``created_at``, status QUEUED) under that id, which sorts before every later event of
-- the run. NULL for a run with a ``created`` row of its own.
ALTER TABLE runs ADD COLUMN created_event BIGINT;
