"""How late a durable sleep resumes: the timer in whoever holds upkeep.

    .venv/bin/python bench/sleep_resume_bench.py [pg|sqlite ...]     (default: both)

    N=200           runs, triggered together, each doing one ``wait.sleep(seconds=SLEEP_S)``
    SLEEP_S=6       seconds (waits under 5 s stay in the process; 6 s suspends the run)
    CONCURRENCY=4   worker children
    SWEEPER=both    who holds upkeep: "worker" (``outlast worker`` alone), "server"
                    (``outlast server`` started first, so it leads, and a worker), or both

Two figures per run, p50 / p95 / max in ms:

- ``woken``: when upkeep completed the sleep's waitpoint minus its due time (upkeep's
  part: the run is queued again in the same transaction);
- ``resumed``: when the resumed attempt reached the step after the sleep minus the due
  time (the whole chain: upkeep, the worker's wake-up and claim, the replay).

The machine's load shows in ``resumed`` (the worker's children must be free to start the
resumed attempts); ``due_spread_s`` says how long the first attempts took to suspend.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from durable_bench import OUTLAST, TASKS, _registered, _server, percentile, wait_marks

from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.store import open_store

N = int(os.environ.get("N", 200))
SLEEP_S = float(os.environ.get("SLEEP_S", 6))
CONCURRENCY = os.environ.get("CONCURRENCY", "4")
SWEEPERS = {"both": ["worker", "server"]}.get(os.environ.get("SWEEPER", "both"),
                                              [os.environ.get("SWEEPER", "both")])
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DB = "bench_sleep_resume"


def database(store: str, root: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{root / 'bench.db'}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"{PG}/{PG_DB}"


def woken_ms(url: str, ids: list[str]) -> list[float]:
    """completed_at - due_at of each run's sleep waitpoint, in ms."""
    query = "SELECT (completed_at - due_at) * 1000 FROM waitpoints WHERE kind = 'time'"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            rows = conn.execute(query).fetchall()
    else:
        with psycopg.connect(url) as pg:
            rows = pg.execute(query).fetchall()
    assert len(rows) == len(ids), (len(rows), len(ids))
    return [float(r[0]) for r in rows]


def resumed_ms(engine: Engine, run_id: str) -> tuple[float, float]:
    """(due time, resume lateness in ms) of one run."""
    sleep, resumed = engine.durable.run_journal(run_id)[:2]
    until = float(sleep["result"]["until"])
    return until, (float(resumed["result"]) - until) * 1000


def figures(name: str, values: list[float]) -> dict[str, float]:
    return {f"{name}_p50_ms": round(statistics.median(values), 1),
            f"{name}_p95_ms": round(percentile(values, 95), 1),
            f"{name}_max_ms": round(max(values), 1)}


def bench(store: str, sweeper: str) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="outlast-sleep-"))
    (root / "tasks").mkdir()
    (root / "tasks" / "w4.py").write_text(TASKS)
    (root / "outlast.toml").write_text('project = "w4"\ndirs = ["tasks"]\n')
    url = database(store, root)
    sink = root / "sink"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(OUTLAST_DATABASE_URL=url, BENCH_SINK=str(sink))
    subprocess.run([OUTLAST, "migrate"], cwd=root, env=env, check=True, capture_output=True)
    log = open(root / "processes.log", "w")  # noqa: SIM115 - open for the processes' lifetime
    server = _server(root, env, log) if sweeper == "server" else None
    worker = subprocess.Popen([OUTLAST, "worker", "--concurrency", CONCURRENCY], cwd=root,
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    engine = Engine(open_store(url))
    client = Client(database_url=url)
    try:
        _registered(engine, worker)
        time.sleep(1.5)  # every child warm, and the worker's first lease attempt made
        ids = [h.id for h in client.tasks.batch_trigger(
            "w4-sleep", [{"payload": SLEEP_S}] * N).runs]
        wait_marks(sink, N, SLEEP_S + 120)
        due, resumed = zip(*(resumed_ms(engine, run_id) for run_id in ids), strict=True)
        woken = woken_ms(url, ids)
    finally:
        for process in (worker, server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        log.close()
        client.close()
        engine.store.close()
    # due_spread_s: how long the first attempts took to suspend them all; past SLEEP_S the
    # first sleeps fall due while first attempts still wait for a worker
    return {"store": store, "sweeper": sweeper, "n": N, "sleep_s": SLEEP_S,
            "due_spread_s": round(max(due) - min(due), 2),
            **figures("woken", woken), **figures("resumed", list(resumed))}


def main(stores: list[str]) -> None:
    for store in stores or ["pg", "sqlite"]:
        for sweeper in SWEEPERS:
            print(json.dumps(bench(store, sweeper)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
