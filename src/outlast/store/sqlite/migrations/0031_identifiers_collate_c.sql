-- Nothing to change on SQLite: PostgreSQL's 0031 makes its identifier columns (ids,
-- environments, tasks, queues, statuses, versions, keys, tags) compare byte by byte,
-- COLLATE "C". SQLite's text compares that way already (its default collation, BINARY).
SELECT 1;
