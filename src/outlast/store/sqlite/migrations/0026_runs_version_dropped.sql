-- runs_version goes, as on PostgreSQL (0026 there): the queries that filter on a version
-- and a status ask for unfinished runs, which runs_version_active holds; the runs list's
-- version filter reads runs_env_version_id (0013). One index fewer to write per start and
-- per finish of a pinned run.
DROP INDEX runs_version;
