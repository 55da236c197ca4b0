"""``insert_runs`` for one untagged run in three shapes, in alternating rounds: wall time
per statement on one connection (PostgreSQL). ``with_tags``: the run as a JSON array, tags'
part included (a single trigger before); ``without``: the same without the tags' part;
``columns``: the run as its columns' values, without the tags' part (a single trigger now).

    .venv/bin/python bench/insert_runs_shapes.py [--rounds 16] [--n 500]

Each statement is its own transaction, committed without waiting for the disk
(``synchronous_commit = off`` on this connection), so the flush, which is the same for
all, does not drown the difference. Each is sent as a trigger sends it
(``store/postgres/direct.py``), the row made and written (as JSON or as values) by the
client each time. Database ``insert_shapes_bench`` at ``PG_URL``, made and dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import psycopg

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import NewRun
from outlast.engine.triggering import RowMaker, _rows_json
from outlast.store import open_store
from outlast.store.postgres import direct

PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("INSERT_SHAPES_DB", "insert_shapes_bench")
NOTES = json.dumps([["outlast_queued", "noop"], ["outlast_changed", "run_x"]])


def shapes(url: str) -> dict[str, Callable[[], None]]:
    store = open_store(url)
    store.migrate()
    book = store._queries  # type: ignore[attr-defined]
    texts = {"with_tags": book.text("insert_runs", {"tagged": True, "rows": "[]"}),
             "without": book.text("insert_runs", {"tagged": None, "rows": "[]"}),
             "columns": book.text("insert_runs", {"tagged": None, "rows": None})}
    store.close()
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SET synchronous_commit = off")
    definition = TaskDefinition(id="noop", queue="noop")
    run = NewRun("noop", "null", TriggerOptions())

    def shape(sql: str) -> Callable[[], None]:
        as_json = "%(rows)s" in sql

        def one() -> None:
            row = RowMaker("dev", time.time()).row(definition, run)
            values = {"rows": _rows_json([row])} if as_json else row
            assert direct.execute(conn, sql, {**values, "notify": NOTES})
        return one

    return {name: shape(sql) for name, sql in texts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    try:
        found = shapes(f"{PG}/{DB}")
        for one in found.values():
            for _ in range(300):
                one()
        wall: dict[str, list[float]] = {name: [] for name in found}
        for r in range(args.rounds):
            for name, one in (list(found.items()) if r % 2 == 0 else
                              list(found.items())[::-1]):
                t = time.perf_counter()
                for _ in range(args.n):
                    one()
                wall[name].append((time.perf_counter() - t) / args.n * 1e6)
        base = wall["with_tags"]
        ratios = {f"{name}/with_tags": round(statistics.median(
            b / a for a, b in zip(base, wall[name], strict=True)), 3) for name in found}
        print(json.dumps({name: round(statistics.median(v), 1) for name, v in wall.items()}
                         | ratios | {"rounds": args.rounds,
                                     "load1": round(os.getloadavg()[0], 2)}))
    finally:
        with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
