-- The run tables that change on every run: vacuumed (and counted) at a fiftieth of their
-- rows dead instead of PostgreSQL's default fifth.
--
-- Every status change of a run writes a new version of its row and new entries in every
-- index of runs (the status is in several of them, so no update is HOT); the claim's
-- partial indexes (runs_claim_any, runs_claim: WHERE status = 'QUEUED') keep an entry for
-- every run that left QUEUED until a VACUUM clears it, and each claim steps over them.
-- Measured after 100,000 runs, never vacuumed (bench/claim_dead_explain.py): one claim's
-- scan of runs_claim_any read 718 buffers and took 9 ms to find the one queued run; after
-- a VACUUM, 2 buffers and 0.01 ms. Trigger → start p95 after those runs, unvacuumed, was
-- 1.4 to 4.8 times a fresh database's (bench/tail_bench.py). At the default scale factor
-- a table of ten million runs waits for two million dead versions; here for 200,000.
-- Fill factor stays 100: with no HOT update, free room in a page would never be used.
-- Upkeep vacuums these tables too when the dead rows pile up anyway (upkeep/reclaiming.py,
-- for a cluster with autovacuum off or behind).
ALTER TABLE runs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02);
ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000);
ALTER TABLE waitpoints SET (autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000);
