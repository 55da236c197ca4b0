-- Nothing to change on SQLite: PostgreSQL's 0029 leaves QUEUED runs out of five of the
-- runs list's indexes and reads them from its own runs_queued, to spare each run loaded
-- in bulk four index entries. SQLite's indexes keep every run (see its 0028): it has no
-- runs_queued, the one index only PostgreSQL has (tests/migration).
SELECT 1;
