"""PostgreSQL reads runs through its partial indexes only when a query says it may.

Migration 0028 leaves EXECUTING runs out of the runs list's indexes (and of
runs_version_active and runs_batch), and 0029 QUEUED runs out of five of them, which
runs_queued holds. The planner uses a partial index only for a query whose own text
implies the index's WHERE, and a prepared statement's generic plan knows no parameter's
value: a list of one status, or a count over several, that did not say ``status <>
'EXECUTING'`` (``<> 'QUEUED'``) would read the whole table (or a whole index) instead. Each
query that reads those indexes is planned here as a generic plan with sequential scans
priced out, and every scan of ``runs`` in it must be an index range (an ``Index Cond``),
never a sequential scan nor a walk over a whole index. Each query of a list page must also
read in the page's order: no Sort above a scan of runs that no Limit bounds (which would
sort a whole backlog), and the part without QUEUED runs never walks runs_pkey (over every
QUEUED run newer than the page).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from outlast.engine.listing import (
    RunFilter,
    order_params,
    page_queries,
    prefix_range,
)
from outlast.store import open_store
from outlast.store.postgres.store import _PARAM, PostgresTx
from outlast.store.queries import QueryBook, load_queries
from tests.conftest import create_pg_database, drop_pg_database, require_postgres

ENV = "dev"
FINAL = ["CANCELED", "COMPLETED", "CRASHED", "EXPIRED", "FAILED", "SYSTEM_FAILURE",
         "TIMED_OUT"]

#: (query, parameters) of every read that must keep to an index range
READS: list[tuple[str, dict[str, Any]]] = [
    ("dashboard_active_counts", {"environment": ENV}),
    ("dashboard_task_recent", {"environment": ENV, "task_id": "t", "limit": 50}),
    ("dashboard_recent_runs", {"environment": ENV, "since": 1.0, "limit": 20_000}),
    ("metrics_live_runs", {"environment": ENV}),
    ("retention_environments", {}),
    ("retention_task_ids", {"environment": ENV}),
    ("pinned_run_counts", {"environment": ENV}),
    ("pinned_active_run", {"environment": ENV, "version": "v1"}),
    ("dev_runs_to_follow", {"environment": ENV, "version": "v2"}),
    ("retention_batch_trees", {"batch_ids": ["batch_1"]}),
]

#: runs-list filters, each planned as every query of its first page and of a later one
LISTS: list[dict[str, Any]] = [
    {},
    {"statuses": ("FAILED",)},
    {"statuses": ("QUEUED",)},
    {"statuses": ("QUEUED", "EXECUTING")},
    {"task": "t"},
    {"task": "t", "statuses": ("FAILED",)},
    {"task": "t", "statuses": ("QUEUED",)},
    {"queue": "q"},
    {"queue": "q", "statuses": ("QUEUED",)},
    {"task": "t", "queue": "q"},
    {"version": "v1"},
    {"tag": "t"},
    {"parent_id": "run_0"},
    {"created_after": 1.0, "created_before": 2.0},
    {"sort": "started"},
]

#: search kinds of a page without filters that read in page order (a payload window; a key
#: prefix many runs share): their QUEUED part reads runs_queued too
ORDERED_KINDS: list[dict[str, Any]] = [
    {"pattern": "%x%", "window": 2_000},
    {"key_from": "o", "key_to": "p", "key_length": 1, "key_dense": True},
]

#: a cursor of each order: a page that is not the first
CURSORS = {"id": "run_01m938qk0s0rzvcpy2632mbxve",
           "created_at": "1.5:run_01m938qk0s0rzvcpy2632mbxve",
           "started_at": "1.5:run_01m938qk0s0rzvcpy2632mbxve"}

#: id and key prefixes the EXECUTING part of a page looks for: checked on each EXECUTING
#: run, never read as a range of another index (which a generic plan guesses small)
PREFIXES = ["run_0", "o"]


def reads_to_plan() -> Iterator[Any]:
    for name, params in READS:
        yield pytest.param(name, params, id=name)
    apart = PostgresTx.statuses_apart
    for filters in LISTS:
        wanted = RunFilter(**filters)
        for cursor in (None, CURSORS[wanted.order]):
            for params in page_queries(wanted, ENV, [{}], apart, 50, cursor):
                yield list_case(filters | {"cursor": cursor is not None}, params)
    for kind in ORDERED_KINDS:
        for params in page_queries(RunFilter(), ENV, [kind], apart, 50, None):
            yield list_case({"search": next(iter(kind))}, params)
    for search in PREFIXES:
        for params in page_queries(RunFilter(), ENV, [prefix_kind(search)], apart, 50, None):
            if "executing" in params:
                yield list_case({"search": search}, params)


def prefix_kind(text: str) -> dict[str, Any]:
    """What ``listing.search_kinds`` makes of an id prefix, or of a key prefix few keys
    start with."""
    if text.startswith("run_"):
        low, high = prefix_range(text, "0123456789abcdefghjkmnpqrstvwxyz")
        return {"id_from": low, "id_to": high, "id_length": len(low)}
    low, high = prefix_range(text)
    return {"key_from": low, "key_to": high, "key_length": len(low), "key_sparse": True}


def list_case(filters: dict[str, Any], params: dict[str, Any]) -> Any:
    """One query of a page (``listing.page_queries``) as a test case."""
    parts = [k for k in ("executing", "not_executing", "queued", "not_queued") if k in params]
    label = ",".join([*(f"{k}={v}" for k, v in filters.items()), *parts])
    return pytest.param("list_runs", params, id=f"list_runs[{label}]")


@pytest.fixture(scope="module")
def plans_url() -> Iterator[str]:
    """A migrated database that never holds a row, of this module alone.

    The session's database is emptied with ``TRUNCATE`` between tests, which keeps the
    column statistics an autovacuum ``ANALYZE`` took of an earlier test's rows: planned
    against those (a status column that was mostly EXECUTING, say), a generic plan may
    sort or walk a whole index that an empty, never analyzed table does not, so a check
    passed or failed by which tests ran before it on its worker, and when.
    """
    require_postgres()
    name = f"outlast_plans_{os.getpid()}"
    url = create_pg_database(name)
    store = open_store(url)
    try:
        store.migrate()
    finally:
        store.close()
    yield url
    drop_pg_database(name)


@pytest.fixture
def pg(store_url: str, request: pytest.FixtureRequest) -> Iterator[psycopg.Connection[Any]]:
    if not store_url.startswith("postgresql"):
        pytest.skip("partial indexes that leave EXECUTING runs out are PostgreSQL's")
    url = request.getfixturevalue("plans_url")
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        yield conn


def generic_plan(conn: psycopg.Connection[Any], name: str, params: dict[str, Any],
                 form: str = "TEXT") -> str:
    text = QueryBook(load_queries("postgres")).text(name, params)
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    conn.execute("PREPARE read AS " + _PARAM.sub(number, text))
    try:
        values = sql.SQL(", ").join(sql.Literal(params[n]) for n in names)
        explain = sql.SQL(f"EXPLAIN (FORMAT {form}) EXECUTE read")
        if names:
            explain = sql.SQL("{} ({})").format(explain, values)
        rows = conn.execute(explain).fetchall()
        return "\n".join(r[0] if isinstance(r[0], str) else json.dumps(r[0]) for r in rows)
    finally:
        conn.execute("DEALLOCATE read")


#: indexes that hold EXECUTING runs only (WHERE status = 'EXECUTING'): at most the workers'
#: concurrency, so reading one whole is reading those runs
EXECUTING_ONLY = ("runs_executing", "runs_leases")


def whole_reads(plan: str) -> list[str]:
    """The scans of ``runs`` in ``plan`` that read the table or a whole index (one that
    holds more than the EXECUTING runs)."""
    lines = plan.splitlines()
    found = []
    for i, line in enumerate(lines):
        scan = re.search(r"Index (Only )?Scan (Backward )?using (\w+) on runs\b", line)
        if re.search(r"Seq Scan on runs\b", line):
            found.append(line.strip())
        elif scan and scan.group(3) not in EXECUTING_ONLY:
            conditions = lines[i + 1] if i + 1 < len(lines) else ""
            if "Index Cond" not in conditions:
                found.append(line.strip())
    return found


@pytest.mark.parametrize("name, params", list(reads_to_plan()))
def test_reads_of_runs_keep_to_an_index_range(pg: psycopg.Connection[Any], name: str,
                                              params: dict[str, Any]) -> None:
    plan = generic_plan(pg, name, params)
    assert whole_reads(plan) == [], plan
    if params.get("executing") and not params.get("parent_id"):
        # the EXECUTING part of a page: those runs and no range (a run's children, of
        # any status, come from runs_parent)
        assert set(indexes_of_runs(plan)) <= set(EXECUTING_ONLY), plan
    if name == "list_runs" and not any(params.get(f"by_{at}") for at in TIMES):
        tree = json.loads(generic_plan(pg, name, params, "JSON"))[0]["Plan"]
        assert unbounded_sorts(tree) == [], plan
    if params.get("queued"):  # runs_queued, and runs_pkey for the page's ids alone
        assert set(indexes_of_runs(plan)) <= {"runs_queued", "runs_pkey"}, plan
        assert "Index Cond: (id = ANY" in plan, plan
    if params.get("not_queued"):  # never a walk over every QUEUED run newer than the page
        assert "runs_pkey" not in indexes_of_runs(plan), plan


#: time orders: read from runs_env_created_at, runs_env_started and runs_env_finished,
#: which hold QUEUED runs (0029 left them whole); runs that share a time (a batch's) are
#: sorted by id within it (an Incremental Sort, or a Sort where the table is empty)
TIMES = ("created_at", "started_at", "finished_at")


def unbounded_sorts(node: dict[str, Any], bounded: bool = False,
                    sorting: bool = False) -> list[str]:
    """The scans of ``runs`` a Sort would sort whole: under a Sort with no Limit between
    (a Limit bounds what its input reads), other than the EXECUTING runs' indexes and the
    page's own ids (``id = ANY``)."""
    kind = node["Node Type"]
    bounded = (bounded or kind == "Limit") and kind != "Sort"
    sorting = kind == "Sort" or (sorting and not bounded)
    found = []
    if (sorting and node.get("Relation Name") == "runs"
            and node.get("Index Name") not in EXECUTING_ONLY
            and "= ANY" not in node.get("Index Cond", node.get("Recheck Cond", ""))):
        found.append(f"{kind} {node.get('Index Name', '')}".strip())
    for child in node.get("Plans", []):
        found += unbounded_sorts(child, bounded, sorting)
    return found


def indexes_of_runs(plan: str) -> list[str]:
    """The indexes of ``runs`` the plan reads (every one's name starts so)."""
    scans = re.findall(r"Index (?:Only )?Scan (?:Backward )?using (runs_\w+)"
                       r"|Bitmap Index Scan on (runs_\w+)", plan)
    return [scan or bitmap for scan, bitmap in scans]


def test_the_executing_part_of_a_page_reads_only_executing_runs(
    pg: psycopg.Connection[Any]
) -> None:
    params = RunFilter().params(ENV) | {"window": 51, "limit": 51, "executing": True}
    plan = generic_plan(pg, "list_runs", params | order_params("id", None, None))
    assert indexes_of_runs(plan) in (["runs_executing"], ["runs_leases"]), plan
