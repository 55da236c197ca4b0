-- Nothing to change on SQLite: PostgreSQL's 0024 tunes its autovacuum for the run tables.
-- SQLite keeps no dead row versions (an updated or deleted row's space is reused by the
-- next insert) and gives free pages back only when asked (``outlast prune --vacuum``).
SELECT 1;
