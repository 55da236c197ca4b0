-- Dashboard: runs by creation time within an environment, for the overview's last hour
-- and the runs list's time-range filters (ids sort by the wall clock, created_at by the
-- engine's clock, so the id index cannot stand in for it).

CREATE INDEX runs_env_created_at ON runs (environment, created_at);
