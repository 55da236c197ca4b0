"""Dashboard render times with a big database: 1,000,000 runs and a run with 1,000 events.

Fills a database per store with a million runs in plain SQL (``_bulk_runs.py``: 30 days of
runs over 12 tasks and queues, most final, two tags each, idempotency keys, five versions),
then through the engine adds 50 cron schedules and one run with 1,000 events and 1,000 log
lines, and times every dashboard page in process (Starlette's TestClient: routing, queries,
templates; no network): the runs list with each filter, sort and search kind, the run page,
tasks, queues, schedules, versions, workers, the overview, the Errors page and one error
group (a day and 30 days; a ``run_errors`` row per failed run), and ``GET /api/v1/runs``
with the same filters. Prints the median and p95 milliseconds per
page and store, and appends one JSON line per page and store to ``$RESULTS``.

    .venv/bin/python bench/dashboard_bench.py                  # both stores, 1,000,000 runs
    RUNS=10000 STORES=sqlite .venv/bin/python bench/dashboard_bench.py
    KEEP=1 .venv/bin/python bench/dashboard_bench.py           # fill once, reuse after

PostgreSQL: a scratch database ``outlast_dashboard_bench`` ($DASHBOARD_PG_DB, so two
checkouts can keep a database each) on $OUTLAST_BENCH_PG_URL
(default postgresql://postgres@127.0.0.1:5432/postgres), dropped and recreated each run.
With ``KEEP=1`` the filled databases (``outlast_dashboard_bench_<RUNS>`` and
``/tmp/outlast-dashboard-bench/<RUNS>.db``) are kept and reused, brought up to date by the
store's migrations.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from _bulk_runs import ENV, TASKS, encode, fill
from _databases import PG_ADMIN, fresh_database
from psycopg import sql

from outlast.core.definitions import TaskDefinition
from outlast.core.fingerprints import error_parts, fingerprint, sample
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.events import event_row
from outlast.jsonutil import loads
from outlast.store import open_store

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from outlast.server.app import create_app

RUNS = int(os.environ.get("RUNS", 1_000_000))
STORES = os.environ.get("STORES", "sqlite postgres").split()
REPEAT = int(os.environ.get("REPEAT", 20))
KEEP = os.environ.get("KEEP") == "1"
RESULTS = os.environ.get("RESULTS", "")
PG_DB = os.environ.get("DASHBOARD_PG_DB", "outlast_dashboard_bench")
SCHEDULES = 50
BUDGET_MS = 100.0
KEY = "bench"
BIG = "big-run"


@contextmanager
def database(store: str) -> Iterator[tuple[str, bool]]:
    """(URL, whether it still needs filling)."""
    if not KEEP:
        with fresh_database(store, PG_DB) as url:
            yield url, True
        return
    if store == "sqlite":
        folder = Path("/tmp/outlast-dashboard-bench")
        folder.mkdir(exist_ok=True)
        path = folder / f"{RUNS}.db"
        yield f"sqlite:///{path}", not path.exists()
        return
    name = f"{PG_DB}_{RUNS}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    yield (f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
           f"{info.get('port', '5432')}/{name}"), not exists


def seed(engine: Engine, url: str) -> None:
    """RUNS runs in plain SQL, then schedules and the 1,000-event run through the engine."""
    engine.register_tasks(ENV, [TaskDefinition(id=t, queue=t) for t in [*TASKS, BIG]])
    started = time.perf_counter()
    fill(url, RUNS, engine.clock.now())
    print(f"filled {RUNS:,} runs in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    for i in range(SCHEDULES):
        engine.schedules.create(ENV, task=TASKS[i % len(TASKS)],
                                cron_text=f"{i} 9 * * MON-FRI",
                                timezone=("UTC", "Europe/Paris", "Asia/Seoul")[i % 3],
                                external_id=f"customer-{i}")
    big_run(engine)


def failures(engine: Engine, url: str) -> None:
    """One ``run_errors`` row per failed run (the Errors page's groups), as the engine
    records a final failure; added to a kept database filled before the table existed.
    Then what autovacuum would do (without statistics PostgreSQL reads the whole
    table for a day's window: 148 ms instead of 3)."""
    if engine.errors.list(ENV, window="30d"):
        return
    with engine.store.transaction() as tx:
        rows = tx.all("list_runs", environment=ENV, status="FAILED", by_id=True,
                      window=RUNS, limit=RUNS)
        tx.many("insert_run_error", [_failure(r) for r in rows])
    print(f"recorded {len(rows):,} failures", file=sys.stderr)
    if url.startswith("postgresql"):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE run_errors")


def _failure(run: dict[str, object]) -> dict[str, object]:
    kind, message = error_parts(loads(str(run["error"])))
    return {"environment": ENV, "task_id": run["task_id"],
            "fingerprint": fingerprint(str(run["task_id"]), kind, message),
            "error_type": kind, "message": sample(message), "run_id": run["id"],
            "attempt": 3, "final": 1, "version": run["version"], "at": run["finished_at"]}


def big_run(engine: Engine) -> str:
    now = engine.clock.now()
    run_id = str(engine.trigger(ENV, NewRun(BIG, '{"big": true}', parse_options(
        {"priority": 1000, "tags": ["big"]}, now))).row["id"])
    [held] = engine.claim(ENV, "bench-big", [BIG], 1)  # log lines need the lease
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


def pages(client: TestClient, engine: Engine) -> dict[str, str]:
    """Every page the dashboard has, and the runs list with each filter, sort and search."""
    [big] = engine.list_runs(ENV, tag="big", limit=1)[0]
    run_id = big["id"]
    middle = "run_" + encode(int((engine.clock.now() - 15 * 86400) * 1000), 10)
    old = engine.list_runs(ENV, limit=1, cursor=middle)[0][0]
    cursor = client.get("/").text.split("cursor=")[1].split('"')[0].split("&")[0]
    version = engine.list_runs(ENV, status=["COMPLETED"], limit=1)[0][0]["version"]
    groups = engine.errors.list(ENV, window="30d")
    group = groups[0]["fingerprint"] if groups else "0" * 16
    found = {
        "runs list": "/",
        "runs, page 2": f"/?cursor={cursor}",
        "runs, status=FAILED": "/?status=FAILED",
        "runs, status=QUEUED+EXECUTING": "/?status=QUEUED&status=EXECUTING",
        "runs, status=PARKED (none)": "/?status=PARKED",
        "runs, task": f"/?task={TASKS[3]}",
        "runs, task+status=FAILED": f"/?task={TASKS[3]}&status=FAILED",
        "runs, queue": f"/?queue={TASKS[5]}",
        "runs, version (newest)": f"/?version={version}",
        "runs, version (an old one)": f"/?version={old['version']}",
        "runs, tag (1 in 500)": "/?tag=user:17",
        "runs, tag (none)": "/?tag=nobody",
        "runs, tag (9 in 10) + status=FAILED": "/?tag=plan:free&status=FAILED",
        "runs, last 1h": "/?period=1h",
        "runs, last 7d + FAILED": "/?period=7d&status=FAILED",
        "runs, range 3 days long ago": "/?from=2020-01-01T00:00&to=2020-01-04T00:00",
        "runs, range one old day": _day_range(old["created_at"]),
        "runs, sort started": "/?sort=started",
        "runs, sort finished + FAILED": "/?sort=finished&status=FAILED",
        "runs, search id prefix": f"/?q={old['id'][:12]}",
        "runs, search whole id": f"/?q={run_id}",
        "runs, search idempotency key": "/?q=order-12345",
        "runs, search tag": "/?q=plan:pro",
        "runs, search payload text": "/?q=person1234@",
        "runs, search no match": "/?q=nothing-like-this",
        "run detail (1,000 events)": f"/runs/{run_id}",
        "tasks": "/tasks",
        f"task {TASKS[3]}": f"/tasks/{TASKS[3]}",
        "queues": "/queues",
        f"queue {TASKS[3]}": f"/queues/{TASKS[3]}",
        "schedules (50)": "/schedules",
        "tokens": "/tokens",
        "versions": "/versions",
        "workers": "/workers",
        "overview": "/overview",
        "errors": "/errors",
        "errors, 30 days": "/errors?window=30d",
        "error group": f"/errors/{group}",
        "error group, 30 days": f"/errors/{group}?window=30d",
        "api runs": "/api/v1/runs",
        "api runs, status+task": f"/api/v1/runs?status=FAILED&task={TASKS[3]}",
        "api runs, queue+sort": f"/api/v1/runs?queue={TASKS[5]}&sort=started",
        "api runs, search": f"/api/v1/runs?search={quote(old['id'][:12])}",
    }
    return {name: path for name, path in found.items()
            if client.get(path, headers=_auth(path)).status_code != 404}


def _day_range(created_at: float) -> str:
    day = time.strftime("%Y-%m-%dT00:00", time.gmtime(created_at))
    end = time.strftime("%Y-%m-%dT00:00", time.gmtime(created_at + 86400))
    return f"/?from={day}&to={end}"


def _auth(path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEY}"} if path.startswith("/api/") else {}


def measure(client: TestClient, path: str) -> tuple[float, float]:
    times = []
    headers = _auth(path)
    for _ in range(REPEAT):
        start = time.perf_counter()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def bench(store: str) -> dict[str, tuple[float, float]]:
    with database(store) as (url, empty):
        opened = open_store(url)
        opened.migrate()
        engine = Engine(opened)
        if empty:
            seed(engine, url)
        failures(engine, url)
        with TestClient(create_app(engine, dev_api_key=KEY, scheduler=False)) as client:
            found = pages(client, engine)
            results = {name: measure(client, path) for name, path in found.items()}
        opened.close()
        return results


def record(results: dict[str, dict[str, tuple[float, float]]]) -> None:
    if not RESULTS:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(RESULTS, "a") as out:
        for store, pages_ in results.items():
            for name, (p50, p95) in pages_.items():
                out.write(json.dumps({"bench": "dashboard", "at": stamp, "store": store,
                                      "runs": RUNS, "page": name, "repeat": REPEAT,
                                      "p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}) + "\n")


def main() -> None:
    results = {store: bench(store) for store in STORES}
    record(results)
    names = list(next(iter(results.values())))
    header = "| page | " + " | ".join(f"{s} p50 ms | {s} p95 ms" for s in STORES) + " |"
    print(f"\n{RUNS:,} runs; {REPEAT} requests per page; budget {BUDGET_MS:.0f} ms (median)\n")
    print(header)
    print("|---|" + "---:|" * (2 * len(STORES)))
    for name in names:
        cells = " | ".join(f"{results[s][name][0]:.1f} | {results[s][name][1]:.1f}"
                           if name in results[s] else "- | -" for s in STORES)
        print(f"| {name} | {cells} |")
    slow = [(s, n) for s in STORES for n in names
            if n in results[s] and results[s][n][0] > BUDGET_MS]
    if slow:
        print(f"\nover budget: {slow}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
