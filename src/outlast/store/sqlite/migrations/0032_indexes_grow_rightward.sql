-- Nothing to change on SQLite: PostgreSQL's 0032 turns some of its indexes keyed by
-- growing ids and times ascending, because PostgreSQL splits a full leaf other than an
-- index's rightmost in half, and a descending index's new entries land on its leftmost.
-- That was measured on PostgreSQL's B-tree only; SQLite's indexes stay as they are.
SELECT 1;
