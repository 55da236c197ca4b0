"""What runs_queued's order costs a bulk load (PostgreSQL): the database's CPU per run.

    .venv/bin/python bench/queued_index_order.py [--rounds 8]

Fills ``runs`` with 100,000 queued runs of one task (as ``run_index_costs.py`` does), then,
in alternating rounds, loads 5,000 more (``load_runs``, five COPYs of 1,000) inside a
transaction that first makes runs_queued descending on ``id`` (as 0029 made it),
ascending (as 0032 makes it), or drops it, and is rolled back after. The
backend's CPU is read from ``/proc/<pid>/schedstat`` (run it on the database's machine).
A batch's ids grow: descending, each new entry goes to the left end of its (task, queue)
range, a descent from the root every time; ascending, to the right end, where a B-tree
inserts without one. Database ``queued_index_order`` (``_databases.fresh_database``: at
``OUTLAST_BENCH_PG_URL``'s server), made and dropped here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

import psycopg
from _databases import fresh_database
from drain_statements_cpu import backend_cpu
from run_index_costs import made

from outlast.store import open_store
from outlast.store.postgres.store import copy_in, copy_text

DB = os.environ.get("QUEUED_ORDER_DB", "queued_index_order")
#: runs_queued as each variant has it (``none``: dropped)
SHAPES = {"descending": "id DESC", "ascending": "id"}


def measure(url: str, rounds: int) -> dict[str, list[float]]:
    store = open_store(url)
    store.migrate()
    copy = copy_in(store._queries.text("load_runs", {}))  # type: ignore[attr-defined]
    store.close()
    conn = psycopg.connect(url, autocommit=True)
    pid = conn.info.backend_pid
    with conn.transaction():
        for _ in range(100):
            copy_text(conn, copy.statement, made(copy, 1000))
    conn.execute("VACUUM ANALYZE runs")
    times: dict[str, list[float]] = {"descending": [], "ascending": [], "none": []}
    for r in range(rounds):
        for variant in (list(times) if r % 2 == 0 else list(times)[::-1]):
            loads = [made(copy, 1000) for _ in range(5)]
            conn.execute("BEGIN")
            conn.execute("DROP INDEX runs_queued")
            if variant in SHAPES:
                conn.execute(  # type: ignore[call-overload]
                    "CREATE INDEX runs_queued ON runs (environment, task_id, queue, "
                    f"{SHAPES[variant]}) WHERE status = 'QUEUED'")
            start = backend_cpu(pid)
            for rows in loads:
                copy_text(conn, copy.statement, rows)
            times[variant].append((backend_cpu(pid) - start) / 5000 * 1e6)
            conn.execute("ROLLBACK")
    conn.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with fresh_database("pg", DB) as url:
        times = measure(url, args.rounds)
    print(json.dumps({"server_us_per_run": {k: round(statistics.median(v), 2)
                                            for k, v in times.items()},
                      "rounds": {k: [round(x, 2) for x in v] for k, v in times.items()},
                      "load1": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
