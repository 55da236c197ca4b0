-- runs_version goes: every query it could serve is served by another index, and every run
-- a versioned worker starts wrote an entry into it twice (no status change of a run is a
-- HOT update, so the started and the finished row versions each enter every index whose
-- WHERE holds; ``version IS NOT NULL`` holds from the first start on).
--
-- The queries that filter on a version and a status ask for unfinished runs
-- (pinned_run_counts, pinned_active_run, dev_runs_to_follow, the claim of runs pinned to a
-- draining version: status = 'QUEUED'), which runs_version_active holds and the planner
-- already reads; the runs list's version filter reads runs_env_version_id (0013).
DROP INDEX runs_version;
