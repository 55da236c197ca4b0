"""Dashboard render times with a big database: 100,000 runs and a run with 1,000 events.

Seeds a fresh database per store through the engine's batch trigger (1,000 runs a
transaction, spread over 12 tasks with tags, a tenth of them finished as COMPLETED or
FAILED through claim and record), 50 cron schedules, one run with 1,000 events and 1,000
log lines, then times each dashboard page in process (Starlette's TestClient: routing, queries,
templates; no network). Prints a table of the median and p95 milliseconds per page and store.

    .venv/bin/python bench/dashboard_bench.py                  # both stores, 100,000 runs
    RUNS=10000 STORES=sqlite .venv/bin/python bench/dashboard_bench.py

PostgreSQL: a scratch database ``outlast_dashboard_bench`` on $OUTLAST_BENCH_PG_URL
(default postgresql://postgres@127.0.0.1:5432/postgres), dropped and recreated each run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings
from contextlib import AbstractContextManager

from _databases import fresh_database

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.engine.events import event_row
from outlast.store import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from outlast.server.app import create_app

RUNS = int(os.environ.get("RUNS", 100_000))
STORES = os.environ.get("STORES", "sqlite postgres").split()
REPEAT = int(os.environ.get("REPEAT", 20))
PG_DB = "outlast_dashboard_bench"
TASKS = [f"task-{i:02d}" for i in range(12)]
BATCH = 1000
SCHEDULES = 50
BUDGET_MS = 200.0


def database(store: str) -> AbstractContextManager[str]:
    return fresh_database(store, PG_DB)


def seed(engine: Engine) -> str:
    """RUNS runs in batches, a tenth of them finished; returns the id of the 1,000-event run."""
    engine.register_tasks("dev", [TaskDefinition(id=t, queue=t) for t in TASKS])
    now = engine.clock.now()
    for start in range(0, RUNS, BATCH):
        engine.trigger_batch("dev", [
            NewRun(TASKS[i % len(TASKS)], json.dumps({"n": i, "user": f"u{i % 500}"}),
                   parse_options({"tags": [f"user:{i % 500}", "bench"]}, now))
            for i in range(start, min(RUNS, start + BATCH))])
    finish_some(engine, RUNS // 10)
    for i in range(SCHEDULES):
        engine.schedules.create("dev", task=TASKS[i % len(TASKS)], cron_text=f"{i} 9 * * MON-FRI",
                                timezone=("UTC", "Europe/Paris", "Asia/Seoul")[i % 3],
                                external_id=f"customer-{i}")
    return big_run(engine)


def finish_some(engine: Engine, count: int) -> None:
    done = 0
    while done < count:
        claimed = engine.claim("dev", "bench-worker", None, min(500, count - done))
        if not claimed:
            return
        engine.record([Outcome(run_id=r["id"], lease_id=r["lease_id"], attempt=1,
                               kind="completed" if n % 7 else "failed", executed=0.05 * (n % 40),
                               output={"ok": True} if n % 7 else None,
                               error=None if n % 7 else {"type": "ValueError", "message": "no"})
                       for n, r in enumerate(claimed)])
        done += len(claimed)


def big_run(engine: Engine) -> str:
    now = engine.clock.now()
    run_id = str(engine.trigger("dev", NewRun(TASKS[0], '{"big": true}',
                                              parse_options({"priority": 1000}, now))).row["id"])
    [held] = engine.claim("dev", "bench-big", [TASKS[0]], 1)  # log lines need the lease
    assert held["id"] == run_id
    events = [event_row(run_id, f"step_{i}", now + i * 0.01, "EXECUTING", 1, step=i)
              for i in range(999)]
    with engine.store.transaction() as tx:
        tx.many("insert_event", events)
    engine.append_logs([{"run_id": run_id, "lease_id": held["lease_id"],
                         "attempt": 1 + i // 500, "at": now + i * 0.01,
                         "level": ("INFO", "DEBUG", "WARNING", "ERROR")[i % 4],
                         "message": f"line {i}", "attributes": json.dumps({"i": i})}
                        for i in range(1000)])
    return run_id


def pages(client: TestClient, run_id: str) -> dict[str, str]:
    first = client.get("/").text
    cursor = first.split('href="/?cursor=')[1].split('"')[0]
    return {
        "runs list": "/",
        "runs, status=FAILED": "/?status=FAILED",
        "runs, status=COMPLETED": "/?status=COMPLETED",
        "runs, task": f"/?task={TASKS[3]}",
        "runs, tag": "/?tag=user:17",
        "runs, last 1h": "/?period=1h",
        "runs, page 2": f"/?cursor={cursor}",
        "runs, id search": f"/?q={run_id}",
        "run detail (1,000 events)": f"/runs/{run_id}",
        "tasks": "/tasks",
        "queues": "/queues",
        "schedules (50)": "/schedules",
        "overview": "/overview",
    }


def measure(client: TestClient, path: str) -> tuple[float, float]:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def bench(store: str) -> dict[str, tuple[float, float]]:
    with database(store) as url:
        opened = open_store(url)
        opened.migrate()
        engine = Engine(opened)
        started = time.perf_counter()
        run_id = seed(engine)
        print(f"{store}: seeded {RUNS:,} runs in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        with TestClient(create_app(engine, dev_api_key="bench", scheduler=False)) as client:
            results = {name: measure(client, path) for name, path in
                       pages(client, run_id).items()}
        opened.close()
        return results


def main() -> None:
    results = {store: bench(store) for store in STORES}
    names = list(next(iter(results.values())))
    header = "| page | " + " | ".join(f"{s} p50 ms | {s} p95 ms" for s in STORES) + " |"
    print(f"\n{RUNS:,} runs; {REPEAT} requests per page; budget {BUDGET_MS:.0f} ms\n")
    print(header)
    print("|" + "---|" * (1 + 2 * len(STORES)))
    for name in names:
        cells = " | ".join(f"{results[s][name][0]:.1f} | {results[s][name][1]:.1f}" for s in STORES)
        print(f"| {name} | {cells} |")
    budgeted = ("runs", "run detail", "queues")
    slow = [(s, n) for s in STORES for n in names if n.startswith(budgeted)
            and results[s][n][0] > BUDGET_MS]
    if slow:
        print(f"\nover budget: {slow}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
