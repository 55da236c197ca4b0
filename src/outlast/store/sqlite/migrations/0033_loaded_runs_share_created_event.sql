-- Runs loaded in bulk share one ``created`` event, as on PostgreSQL (its 0033 says why):
-- the load writes one run_events row, for its first queued run without tags, and each such
-- run holds that event's id. The timeline and the realtime feed read a run's ``created``
-- event from its own row under that id. NULL for a run with a ``created`` row of its own.
ALTER TABLE runs ADD COLUMN created_event INTEGER;
