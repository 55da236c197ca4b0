"""Flow control costs: claim throughput with concurrency keys, and a small tenant's start
latency behind a large tenant's backlog.

1. Claim throughput (claim 10 → complete them → repeat, one process, in-process engine):
   ``plain``     a queue with no limit (the one-statement fast path);
   ``one key``   concurrency_limit=10 per key, every run with the same key (counting path);
   ``1000 keys`` the same limit, runs spread over 1,000 keys (skip scan over keys, turns).
2. Small tenant under a backlog: 50,000 runs of key ``big`` queued, limit 4 per key and total
   4; the loop claims 4 and completes them; every 10th pass a run of key ``small`` is
   triggered; its start latency (trigger → claimed) in ms and in claim passes.

    .venv/bin/python bench/flow_bench.py                    # both stores
    RUNS=3000 BACKLOG=10000 STORES=sqlite .venv/bin/python bench/flow_bench.py

PostgreSQL: a scratch database ``outlast_flow_bench`` on $OUTLAST_BENCH_PG_URL
(default postgresql://postgres@127.0.0.1:5432/postgres), dropped and recreated per case.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from _databases import fresh_database

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.store import open_store

RUNS = int(os.environ.get("RUNS", 5000))
BACKLOG = int(os.environ.get("BACKLOG", 50_000))
SMALL = int(os.environ.get("SMALL", 50))
STORES = os.environ.get("STORES", "sqlite postgres").split()
PG_DB = "outlast_flow_bench"


@contextmanager
def engine_for(store: str, **limits: Any) -> Iterator[Engine]:
    with _database(store) as url:
        opened = open_store(url)
        opened.migrate()
        engine = Engine(opened, lease_seconds=3600)
        engine.register_tasks("dev", [TaskDefinition(id="job", queue="q", **limits)])
        try:
            yield engine
        finally:
            opened.close()


def _database(store: str) -> AbstractContextManager[str]:
    return fresh_database(store, PG_DB)


def enqueue(engine: Engine, n: int, key: Any) -> None:
    for start in range(0, n, 1000):
        reqs = []
        for i in range(start, min(n, start + 1000)):
            k = key(i) if callable(key) else key
            opts = parse_options({"concurrency_key": k} if k else {}, engine.clock.now())
            reqs.append(NewRun("job", json.dumps(i), opts))
        engine.trigger_batch("dev", reqs)


def complete(engine: Engine, rows: list[dict[str, Any]]) -> None:
    if rows:
        engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                               output=None) for r in rows])


def throughput(store: str, key: Any, limits: dict[str, Any]) -> float:
    with engine_for(store, **limits) as engine:
        enqueue(engine, RUNS, key)
        done = 0
        started = time.perf_counter()
        while done < RUNS:
            rows = engine.claim("dev", "w", None, 10)
            if not rows:
                raise RuntimeError(f"claimed nothing after {done} runs")
            complete(engine, rows)
            done += len(rows)
        return RUNS / (time.perf_counter() - started)


def small_tenant(store: str) -> dict[str, float]:
    with engine_for(store, concurrency_limit=4, total_limit=4) as engine:
        enqueue(engine, BACKLOG, "big")
        waiting: dict[str, tuple[float, int]] = {}
        lat_ms: list[float] = []
        passes: list[int] = []
        n = 0
        while len(lat_ms) < SMALL:
            n += 1
            if n % 10 == 0:
                opts = parse_options({"concurrency_key": "small"}, engine.clock.now())
                made = engine.trigger("dev", NewRun("job", "0", opts))
                waiting[made.row["id"]] = (time.perf_counter(), n)
            rows = engine.claim("dev", "w", None, 4)
            for r in rows:
                if r["id"] in waiting:
                    at, at_pass = waiting.pop(r["id"])
                    lat_ms.append((time.perf_counter() - at) * 1000)
                    passes.append(n - at_pass)
            complete(engine, rows)
        lat_ms.sort()
        return {"p50_ms": statistics.median(lat_ms), "p95_ms": lat_ms[int(0.95 * len(lat_ms)) - 1],
                "max_passes": max(passes)}


def main() -> None:
    cases = {
        "plain": (None, {}),
        "one key": ("k", {"concurrency_limit": 10}),
        "1000 keys": (lambda i: f"tenant-{i % 1000}", {"concurrency_limit": 10}),
    }
    print(f"claim throughput, {RUNS} runs, claim 10 + complete per pass (runs/s)")
    print("| store | plain | one key | 1000 keys | 1000 keys / plain |")
    print("|---|---:|---:|---:|---:|")
    for store in STORES:
        rates = {name: throughput(store, key, limits) for name, (key, limits) in cases.items()}
        print(f"| {store} | {rates['plain']:,.0f} | {rates['one key']:,.0f} | "
              f"{rates['1000 keys']:,.0f} | {rates['1000 keys'] / rates['plain']:.2f}× |",
              flush=True)
    print(f"\nsmall tenant behind {BACKLOG:,} queued runs of another key "
          "(limit 4 per key, total 4; claim 4 per pass)")
    print("| store | p50 ms | p95 ms | worst, claim passes |")
    print("|---|---:|---:|---:|")
    for store in STORES:
        got = small_tenant(store)
        print(f"| {store} | {got['p50_ms']:.1f} | {got['p95_ms']:.1f} | "
              f"{got['max_passes']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
