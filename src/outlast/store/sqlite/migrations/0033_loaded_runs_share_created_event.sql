-- Runs loaded in bulk share one ``created`` event, as on PostgreSQL (its 0033 says why):
-- each queued run without tags holds an event id taken when the load starts, under which
-- the timeline and the run's realtime cursor read its ``created`` event from its own row.
-- Only the load's first such run has a ``created`` row. NULL for a run with a ``created``
-- row of its own.
ALTER TABLE runs ADD COLUMN created_event INTEGER;
