"""The runs list and the dashboard's reads beside a backlog of QUEUED runs (PostgreSQL).

    .venv/bin/python bench/queued_list_plans.py [--backlog 200000] [--explain] [--custom]

Fills a database with a history (completed runs of tasks a, b and other), the QUEUED runs of
task ``other`` (queue other) and of task ``bulk`` in queue side, a backlog of ``--backlog``
QUEUED runs of task ``bulk`` in queue bulk loaded after them (as ``batch_trigger`` does:
``load_runs``, a COPY), and a second environment. Then every list shape (each page as
``listing.list_page`` asks it) and each dashboard read runs with generic plans (a prepared
statement's plan after its fifth use, which knows no parameter's value; ``--custom``: plans
made for each call's values, as the first five are), and this prints
its time (median of 5) and, with ``--explain``, each query's plan: the scans of ``runs``,
how many rows each read, and any Sort. A shape that read or sorted the backlog shows it in
the rows. Database ``queued_list_plans`` at ``PG_URL``, made and dropped here (``KEEP=1``
keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import NewRun
from outlast.engine.listing import RunFilter, list_page
from outlast.engine.triggering import RowMaker
from outlast.store import open_store
from outlast.store.postgres.store import PostgresTx, copy_in, copy_text, to_pyformat
from outlast.store.queries import QueryBook, load_queries

PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("QUEUED_PLANS_DB", "queued_list_plans")
ENV = "dev"
HOUR = 3600.0


class GenericTx:
    """The ``Tx`` a list page needs, over a connection that plans every statement as a
    generic plan; it keeps each (query text, parameters) it ran."""

    #: the store's (an older checkout's ``executing_apart`` too: ``PYTHONPATH=<its src>``
    #: measures it on its own schema)
    statuses_apart = getattr(PostgresTx, "statuses_apart", frozenset())
    executing_apart = True

    def __init__(self, conn: psycopg.Connection[Any], book: QueryBook,
                 prepare: bool = True) -> None:
        self.conn, self.book, self.prepare = conn, book, prepare
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def all(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        text = to_pyformat(self.book.text(name, params))
        self.sent.append((text, params))
        cur = self.conn.cursor(row_factory=dict_row)
        return cur.execute(text, params, prepare=self.prepare).fetchall()

    def one(self, name: str, /, **params: Any) -> dict[str, Any] | None:
        rows = self.all(name, **params)
        return rows[0] if rows else None


def load(conn: psycopg.Connection[Any], url: str, env: str, task: str, queue: str, n: int,
         created: float) -> None:
    store = open_store(url)
    copy = copy_in(store._queries.text("load_runs", {}))  # type: ignore[attr-defined]
    store.close()
    definition = TaskDefinition(id=task, queue=queue)
    for start in range(0, n, 5000):
        maker = RowMaker(env, created + start / max(n, 1) * HOUR / 2)
        made = [maker.row(definition, NewRun(task, json.dumps({"i": start + i}),
                                             TriggerOptions(), batch_id="batch_b"))
                for i in range(min(5000, n - start))]
        rows = copy.text(made)
        with conn.transaction():
            copy_text(conn, copy.statement, rows)


def fill(url: str, backlog: int) -> None:
    store = open_store(url)
    store.migrate()
    store.close()
    now = time.time()
    with psycopg.connect(url, autocommit=True) as conn:
        for task in ("a", "b", "other"):  # the history: a day ago, completed
            load(conn, url, ENV, task, task, 10_000, now - 24 * HOUR)
        conn.execute("UPDATE runs SET status = 'COMPLETED', started_at = created_at + 1, "
                     "finished_at = created_at + 2, attempt_count = 1")
        load(conn, url, "prod", "a", "a", 5_000, now - 2 * HOUR)
        load(conn, url, ENV, "other", "other", 300, now - HOUR)
        load(conn, url, ENV, "bulk", "side", 100, now - HOUR)
        load(conn, url, ENV, "bulk", "bulk", backlog, now - HOUR / 2)
        conn.execute("VACUUM ANALYZE runs")


def shapes(mid: dict[str, Any], other_at: float) -> Iterator[tuple[str, RunFilter, str | None]]:
    """(name, filter, cursor) of each list shape."""
    yield "newest", RunFilter(), None
    yield "page 2 (cursor in the backlog)", RunFilter(), mid["id"]
    yield "status QUEUED", RunFilter(statuses=("QUEUED",)), None
    yield "status QUEUED, page 2", RunFilter(statuses=("QUEUED",)), mid["id"]
    yield "status COMPLETED", RunFilter(statuses=("COMPLETED",)), None
    yield "task other", RunFilter(task="other"), None
    yield "task other + QUEUED", RunFilter(task="other", statuses=("QUEUED",)), None
    yield "task bulk", RunFilter(task="bulk"), None
    yield "task a (none queued)", RunFilter(task="a"), None
    yield "queue other", RunFilter(queue="other"), None
    yield "queue side (bulk's other queue)", RunFilter(queue="side"), None
    yield "queue bulk", RunFilter(queue="bulk"), None
    yield "queue bulk + QUEUED, page 2", RunFilter(queue="bulk", statuses=("QUEUED",)), mid["id"]
    yield "task bulk + queue side", RunFilter(task="bulk", queue="side"), None
    yield "created range: last hour", RunFilter(created_after=time.time() - HOUR), None
    yield "created range: other's runs", RunFilter(created_after=other_at - 1,
                                                   created_before=other_at + 1), None
    yield "sort started", RunFilter(sort="started"), None
    yield "search payload", RunFilter(search="nowhere"), None
    yield "search id prefix", RunFilter(search=mid["id"][:12]), None
    yield "tag (none)", RunFilter(tag="nobody"), None


READS = [("dashboard_active_counts", {}), ("metrics_live_runs", {}),
         ("dashboard_task_recent", {"task_id": "other", "limit": 50}),
         ("dashboard_task_recent", {"task_id": "bulk", "limit": 50}),
         ("dashboard_recent_runs", {"since": 0.0, "limit": 50}),
         ("queue_counts", {"name": "bulk"}), ("retention_task_ids", {})]


def timed(run: Any) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def plan(conn: psycopg.Connection[Any], text: str, params: dict[str, Any],
         generic: bool) -> list[str]:
    lines = [r[0] for r in conn.execute("EXPLAIN (ANALYZE) " + text, params,
                                        prepare=generic).fetchall()]
    return [line.strip() for line in lines
            if ("on runs" in line or "Sort" in line) and "Sort Key" not in line]


def measure(url: str, explain: bool, generic: bool) -> None:
    book = QueryBook(load_queries("postgres"))
    with psycopg.connect(url, autocommit=True,
                         prepare_threshold=0 if generic else None) as conn:
        conn.execute("SET plan_cache_mode = "
                     + ("force_generic_plan" if generic else "force_custom_plan"))
        tx = GenericTx(conn, book, generic)
        mid = conn.cursor(row_factory=dict_row).execute(
            "SELECT id FROM runs WHERE task_id = 'bulk' AND queue = 'bulk' ORDER BY id "
            "OFFSET (SELECT count(*) / 2 FROM runs WHERE queue = 'bulk') LIMIT 1").fetchone()
        other = conn.execute("SELECT max(created_at) FROM runs WHERE task_id = 'other' "
                             "AND status = 'QUEUED'").fetchone()
        assert mid is not None and other is not None
        for name, wanted, cursor in shapes(mid, float(other[0])):
            tx.sent.clear()
            rows, _ = list_page(tx, ENV, wanted, 50, cursor)  # type: ignore[arg-type]
            sent = list(tx.sent)
            ms = timed(lambda w=wanted, c=cursor: list_page(tx, ENV, w, 50, c))  # type: ignore[arg-type, misc]
            print(f"{name}: {len(rows)} rows, {ms:.2f} ms, {len(sent)} queries")
            for text, params in sent if explain else []:
                print("    " + "\n    ".join(plan(conn, text, params, generic)))
        for name, extra in READS:
            params = {"environment": ENV} | extra
            text = to_pyformat(book.text(name, params))
            ms = timed(lambda t=text, p=params: conn.execute(  # type: ignore[misc]
                t, p, prepare=generic).fetchall())
            print(f"{name} {extra}: {ms:.2f} ms")
            if explain:
                print("    " + "\n    ".join(plan(conn, text, params, generic)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=200_000)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--custom", action="store_true", help="custom plans, not generic")
    args = parser.parse_args()
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    try:
        fill(f"{PG}/{DB}", args.backlog)
        measure(f"{PG}/{DB}", args.explain, not args.custom)
        print(f"load1 {os.getloadavg()[0]:.2f}")
    finally:
        if not os.environ.get("KEEP"):
            with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
