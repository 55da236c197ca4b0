"""The plan of each runs-list query shape on a filled database, with its time.

Every filter, sort and search kind the runs list offers is one ``list_runs`` query
(engine/listing.py); this prints, for each, the indexes the database reads and how long the
query took (SQLite: ``EXPLAIN QUERY PLAN``; PostgreSQL: ``EXPLAIN (ANALYZE)``, with
``--generic`` of the prepared statement's generic plan). On PostgreSQL a page without a
status filter is two or three queries, its EXECUTING runs, in id order its QUEUED runs, and
the others (``listing.status_parts``).
Run after ``KEEP=1 bench/dashboard_bench.py`` filled the databases:

    .venv/bin/python bench/runs_list_explain.py sqlite:////tmp/outlast-dashboard-bench/1000000.db
    .venv/bin/python bench/runs_list_explain.py \\
        postgresql://postgres@127.0.0.1:5432/outlast_dashboard_bench_1000000 [--generic]
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from outlast.engine.listing import (
    RunFilter,
    apart_here,
    order_params,
    prefix_range,
    status_parts,
    unranged,
)
from outlast.store.postgres.store import _PARAM, PostgresTx, to_pyformat
from outlast.store.queries import QueryBook, load_queries

ENV = "dev"
VERSIONS = "SELECT min(version) AS low, max(version) AS high FROM runs"
#: a completed run halfway through the table: the cursor of the "page 2" shapes
SAMPLE = ("SELECT * FROM runs WHERE status = 'COMPLETED' "
          "ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM runs)")


def shapes(sample: dict[str, Any], versions: tuple[str, str]) -> dict[str, dict[str, Any]]:
    """(name → query parameters) for each filter, sort and search kind; ``versions``: the
    oldest and the newest version (each one block of runs in time)."""
    def page(sort: str = "created", cursor: str | None = None, **extra: Any) -> dict[str, Any]:
        wanted = RunFilter(sort=sort, created_after=extra.get("created_after"),
                           created_before=extra.get("created_before"))
        return (wanted.params(ENV) | {"window": 51, "limit": 51} | extra
                | order_params(wanted.order, extra.get("tag"), cursor, extra.get("version")))

    def key(prefix: str, dense: bool) -> dict[str, Any]:
        low, high = prefix_range(prefix)
        return {"key_from": low, "key_to": high, "key_length": len(low),
                "key_dense" if dense else "key_sparse": True}
    old_id, old_at = sample["id"], sample["created_at"]
    low, high = prefix_range(old_id[:12], "0123456789abcdefghjkmnpqrstvwxyz")
    return {
        "newest": page(),
        "page 2 (cursor)": page(cursor=old_id),
        "status": page(status="FAILED"),
        "status, none": page(status="PARKED"),
        "status EXECUTING": page(status="EXECUTING"),
        "task": page(task_id="task-03"),
        "task + status": page(task_id="task-03", status="FAILED"),
        "queue": page(queue="task-05"),
        "queue + status": page(queue="task-05", status="CANCELED"),
        "version": page(version=sample["version"]),
        "version, oldest": page(version=versions[0]),
        "version, newest": page(version=versions[1]),
        "version + status": page(version=sample["version"], status="FAILED"),
        "version, page 2": page(version=sample["version"], cursor=old_id),
        "tag": page(tag="user:17"),
        "tag, common": page(tag="plan:free"),
        "tag, common, page 2": page(tag="plan:free", cursor=old_id),
        "tag + status": page(tag="plan:free", status="FAILED"),
        "tag, none": page(tag="nobody"),
        "created after (1h)": page(created_after=time.time() - 3600),
        "created after (7d) + status": page(created_after=time.time() - 7 * 86400,
                                            status="FAILED"),
        "created range, one old day": page(created_after=old_at, created_before=old_at + 86400),
        "created range, page 2": page(cursor=f"{old_at + 3600!r}:{old_id}",
                                      created_after=old_at, created_before=old_at + 86400),
        "created range, before any run": page(created_after=0, created_before=86400),
        "sort started": page("started"),
        "sort started, page 2": page("started", f"{sample['started_at']!r}:{old_id}"),
        "sort finished + status": page("finished", status="FAILED"),
        "search id prefix": page(id_from=low, id_to=high, id_length=len(low)),
        "search key prefix": page(**key("order-12345", False)),
        "search key prefix, common": page(**key("order-", True)),
        "search payload window": page(pattern="%person1234@%", window=2_000),
    }


def queries(sample: dict[str, Any], versions: tuple[str, str],
            apart: frozenset[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each query a page of each shape sends: one per part of its status (``status_parts``:
    without a status, on PostgreSQL, the EXECUTING runs, in id order the QUEUED ones, and
    the others are apart; ``listing.part_order`` gives each its order)."""
    for name, params in shapes(sample, versions).items():
        status = params.pop("status", None)
        order = "id" if "by_id" in params else "time"
        parts = status_parts((status,) if status else (), apart_here(apart, order, params))
        for part in parts:
            label = name if len(parts) == 1 else f"{name} [{_part_name(part)}]"
            query = (unranged(params) if "executing" in part else params) | part
            if "queued" in part:
                query.pop("by_id")
            elif "not_queued" in part:
                query["by_env_id"] = query.pop("by_id")
            yield label, query


def _part_name(part: dict[str, Any]) -> str:
    return " and ".join(name.replace("_", " ").upper() for name in part)


def explain_sqlite(url: str) -> None:
    conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
    conn.row_factory = sqlite3.Row
    book = QueryBook(load_queries("sqlite"))
    sample = dict(conn.execute(SAMPLE).fetchone())
    versions = conn.execute(VERSIONS).fetchone()
    for name, params in queries(sample, tuple(versions), apart=frozenset()):
        sql = book.text("list_runs", params)
        plan = [r["detail"] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        started = time.perf_counter()
        rows = conn.execute(sql, params).fetchall()
        ms = (time.perf_counter() - started) * 1000
        print(f"{name}: {len(rows)} rows, {ms:.1f} ms\n    " + "\n    ".join(plan))


def explain_postgres(url: str, generic: bool) -> None:
    book = QueryBook(load_queries("postgres"))
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        cur = conn.cursor(row_factory=psycopg.rows.dict_row)
        sample = cur.execute(SAMPLE).fetchone()
        span = cur.execute(VERSIONS).fetchone()
        assert sample is not None and span is not None
        if generic:
            cur.execute("SET plan_cache_mode = force_generic_plan")
        for name, params in queries(sample, (span["low"], span["high"]),
                                    apart=PostgresTx.statuses_apart):
            lines = [r["QUERY PLAN"] for r in explain(cur, book.text("list_runs", params),
                                                      params, generic)]
            used = [line.strip() for line in lines if "Scan" in line or "Sort" in line
                    or "Execution Time" in line]
            print(f"{name}:\n    " + "\n    ".join(used))


def explain(cur: Any, text: str, params: dict[str, Any], generic: bool) -> list[Any]:
    """EXPLAIN ANALYZE of one query: planned for these values, or (``generic``) as a
    prepared statement's generic plan, which knows none of them, the plan a connection
    may keep for a query it ran more than five times."""
    if not generic:
        return cur.execute("EXPLAIN (ANALYZE) " + to_pyformat(text), params).fetchall()
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"
    cur.execute("PREPARE listed AS " + _PARAM.sub(number, text))
    values = sql.SQL(", ").join(sql.Literal(params[n]) for n in names)
    try:
        return cur.execute(sql.SQL("EXPLAIN (ANALYZE) EXECUTE listed ({})").format(values)
                           if names else "EXPLAIN (ANALYZE) EXECUTE listed").fetchall()
    finally:
        cur.execute("DEALLOCATE listed")


if __name__ == "__main__":
    target = sys.argv[1]
    if target.startswith("sqlite"):
        explain_sqlite(target)
    else:
        explain_postgres(target, generic="--generic" in sys.argv[2:])
