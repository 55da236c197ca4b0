"""A trigger's statement sent three ways, in alternating rounds: wall and CPU per statement.

    .venv/bin/python bench/direct_statement.py [--rounds 8] [--n 2000]

``cursor``: a psycopg cursor made, executed (prepared) and closed per statement, as
``PostgresTx`` sent a transaction of one statement before; ``reused``: one cursor kept;
``direct``: ``outlast.store.postgres.direct.execute`` (libpq, prepared once per
connection). The statement is ``insert_runs`` with no rows, so the server's part is small
and the same for all three: the differences are the client's. Run on PostgreSQL at
``PG_URL`` (default 127.0.0.1, database ``direct_bench``, made and dropped here).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import psycopg
from psycopg.rows import tuple_row

from outlast.store import open_store
from outlast.store.postgres import direct

PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("DIRECT_BENCH_DB", "direct_bench")
PARAMS = {"rows": "[]", "notify": "[]"}


def ways(url: str) -> dict[str, Callable[[], None]]:
    store = open_store(url)
    store.migrate()
    sql = store._queries.text("insert_runs", PARAMS)  # type: ignore[attr-defined]
    store.close()
    conn = psycopg.connect(url, autocommit=True)
    kept = conn.cursor(row_factory=tuple_row)

    def cursor() -> None:
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(sql, PARAMS, prepare=True)

    def reused() -> None:
        kept.execute(sql, PARAMS, prepare=True)

    def libpq() -> None:
        direct.execute(conn, sql, PARAMS)

    return {"cursor": cursor, "reused": reused, "direct": libpq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    try:
        run(ways(f"{PG}/{DB}"), args.rounds, args.n)
    finally:
        with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def run(found: dict[str, Callable[[], None]], rounds: int, n: int) -> None:
    for way in found.values():
        for _ in range(200):
            way()
    wall: dict[str, list[float]] = {name: [] for name in found}
    cpu: dict[str, list[float]] = {name: [] for name in found}
    for r in range(rounds):
        for name, way in (list(found.items()) if r % 2 == 0 else list(found.items())[::-1]):
            t, c = time.perf_counter(), time.process_time()
            for _ in range(n):
                way()
            wall[name].append((time.perf_counter() - t) / n * 1e6)
            cpu[name].append((time.process_time() - c) / n * 1e6)
    for name in found:
        print(json.dumps({"way": name, "wall_us": round(statistics.median(wall[name]), 1),
                          "cpu_us": round(statistics.median(cpu[name]), 1), "rounds": rounds,
                          "load1": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
