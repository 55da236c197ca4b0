"""PostgreSQL reads runs through its partial indexes only when a query says it may.

Migration 0028 leaves EXECUTING runs out of the runs list's indexes (and of
runs_version_active and runs_batch). The planner uses a partial index only for a query
whose own text implies the index's WHERE, and a prepared statement's generic plan knows no
parameter's value: a list of one status, or a count over several, that did not say
``status <> 'EXECUTING'`` would read the whole table (or a whole index) instead. Each query
that reads those indexes is planned here as a generic plan with sequential scans priced
out, and every scan of ``runs`` in it must be an index range (an ``Index Cond``), never a
sequential scan nor a walk over a whole index.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from outlast.engine.listing import (
    RunFilter,
    order_params,
    prefix_range,
    status_parts,
    unranged,
)
from outlast.store.postgres.store import _PARAM
from outlast.store.queries import QueryBook, load_queries

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

#: runs-list filters whose page reads an index range (a page of every run of an
#: environment, newest first, may walk runs_pkey from its end: it stops at the page's end)
LISTS: list[dict[str, Any]] = [
    {"statuses": ("FAILED",)},
    {"statuses": ("QUEUED", "EXECUTING")},
    {"task": "t"},
    {"task": "t", "statuses": ("FAILED",)},
    {"queue": "q"},
    {"version": "v1"},
    {"created_after": 1.0, "created_before": 2.0},
    {"sort": "started"},
]

#: id and key prefixes the EXECUTING part of a page looks for: checked on each EXECUTING
#: run, never read as a range of another index (which a generic plan guesses small)
PREFIXES = ["run_0", "o"]


def reads_to_plan() -> Iterator[Any]:
    for name, params in READS:
        yield pytest.param(name, params, id=name)
    for filters in LISTS:
        wanted = RunFilter(**filters)
        for part in status_parts(wanted.statuses):
            yield list_case(filters, wanted, part, {})
    for search in PREFIXES:
        yield list_case({"search": search}, RunFilter(), {"executing": True},
                        prefix_kind(search))


def prefix_kind(text: str) -> dict[str, Any]:
    """What ``listing.search_kinds`` makes of an id prefix, or of a key prefix few keys
    start with."""
    if text.startswith("run_"):
        low, high = prefix_range(text, "0123456789abcdefghjkmnpqrstvwxyz")
        return {"id_from": low, "id_to": high, "id_length": len(low)}
    low, high = prefix_range(text)
    return {"key_from": low, "key_to": high, "key_length": len(low), "key_sparse": True}


def list_case(filters: dict[str, Any], wanted: RunFilter, part: dict[str, Any],
              kind: dict[str, Any]) -> Any:
    """One query of a page (``listing.list_page``'s parameters) as a test case."""
    kind = unranged(kind) if "executing" in part else kind
    params = (wanted.params(ENV) | {"window": 51, "limit": 51} | part | kind
              | order_params(wanted.order, None, None, wanted.version))
    label = ",".join(f"{k}={v}" for k, v in [*filters.items(), *part.items()])
    return pytest.param("list_runs", params, id=f"list_runs[{label}]")


@pytest.fixture
def pg(store_url: str) -> Iterator[psycopg.Connection[Any]]:
    if not store_url.startswith("postgresql"):
        pytest.skip("partial indexes that leave EXECUTING runs out are PostgreSQL's")
    with psycopg.connect(store_url, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET plan_cache_mode = force_generic_plan")
        yield conn


def generic_plan(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> str:
    text = QueryBook(load_queries("postgres")).text(name, params)
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    conn.execute("PREPARE read AS " + _PARAM.sub(number, text))
    try:
        values = sql.SQL(", ").join(sql.Literal(params[n]) for n in names)
        explain = (sql.SQL("EXPLAIN EXECUTE read ({})").format(values) if names
                   else sql.SQL("EXPLAIN EXECUTE read"))
        return "\n".join(r[0] for r in conn.execute(explain).fetchall())
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
    if params.get("executing"):  # the EXECUTING part of a page: those runs and no range
        assert set(indexes_of_runs(plan)) <= set(EXECUTING_ONLY), plan


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
