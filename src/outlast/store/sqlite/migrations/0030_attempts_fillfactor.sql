-- Nothing to change on SQLite: PostgreSQL's 0030 leaves half of each attempts page free so
-- that an attempt's end updates its row in place (a HOT update, no new index entry).
-- SQLite rewrites a row in place in its table's b-tree and has no fill factor to set.
SELECT 1;
