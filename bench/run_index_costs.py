"""What each index a queued batch run enters costs a bulk load (PostgreSQL).

    .venv/bin/python bench/run_index_costs.py [--rounds 6] [--n 5000] [--base 100000]

Fills ``runs`` with ``--base`` queued runs of one batch task (so the trees have depth),
then, in alternating rounds, loads ``--n`` more through ``load_runs`` (binary ``COPY``,
as ``batch_trigger`` does) inside a transaction that first drops one index (or none) and
is rolled back after: the time per run saved by each index's absence is what that index
costs a load. The client's part (rows made and written) is the same in every variant.
Database ``index_costs_bench`` at ``PG_URL``, made, migrated and dropped here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import psycopg

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import NewRun
from outlast.engine.triggering import RowMaker
from outlast.store import open_store
from outlast.store.postgres.store import CopyIn, copy_in, copy_text

PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("INDEX_COSTS_DB", "index_costs_bench")
#: the indexes of ``runs`` a queued run of a batch enters (``bench/run_index_writes.py``);
#: before PostgreSQL's 0029 also runs_env_created, runs_env_status, runs_env_task,
#: runs_env_task_status and runs_queue, which leave QUEUED runs out since
QUEUED = ("runs_pkey", "runs_batch", "runs_claim", "runs_claim_any", "runs_env_created_at",
          "runs_queued")


def made(copy: CopyIn, n: int) -> list[str]:
    maker = RowMaker("bulk", time.time())
    definition = TaskDefinition(id="noop", queue="noop")
    request = NewRun("noop", "null", TriggerOptions(), batch_id="batch_bench")
    return list(copy.text([maker.row(definition, request) for _ in range(n)]))


def measure(url: str, rounds: int, n: int, base: int) -> dict[str, float]:
    store = open_store(url)
    store.migrate()
    copy = copy_in(store._queries.text("load_runs", {}))  # type: ignore[attr-defined]
    store.close()
    conn = psycopg.connect(url, autocommit=True)
    with conn.transaction():
        for _ in range(base // 1000):
            copy_text(conn, copy.statement, made(copy, 1000))
    conn.execute("VACUUM ANALYZE runs")
    variants = ["none", *QUEUED[1:]]  # the primary key cannot go
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(rounds):
        for variant in (variants if r % 2 == 0 else variants[::-1]):
            rows = made(copy, n)
            conn.execute("BEGIN")
            if variant != "none":
                conn.execute(f"DROP INDEX {variant}")
            start = time.perf_counter()
            copy_text(conn, copy.statement, rows)
            times[variant].append((time.perf_counter() - start) / n * 1e6)
            conn.execute("ROLLBACK")
    conn.close()
    return {v: statistics.median(t) for v, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--base", type=int, default=100_000)
    args = parser.parse_args()
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB}")
    try:
        us = measure(f"{PG}/{DB}", args.rounds, args.n, args.base)
    finally:
        with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    print(json.dumps({"copy_us_per_run": round(us["none"], 2),
                      "saved_us_without": {k: round(us["none"] - v, 2)
                                           for k, v in us.items() if k != "none"},
                      "rounds": args.rounds, "base": args.base,
                      "load1": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
