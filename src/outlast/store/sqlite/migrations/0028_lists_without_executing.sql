-- Nothing to change on SQLite: PostgreSQL's 0028 leaves EXECUTING runs out of the runs
-- list's indexes, to spare each started run's row version eight index entries. SQLite's
-- indexes keep every run: a run's index entries cost it less, and its planner takes a
-- partial index only for a query that repeats the index's WHERE word for word, which the
-- shared count and retention queries would all have to (PostgreSQL's own versions do).
SELECT 1;
