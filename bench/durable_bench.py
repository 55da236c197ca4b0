"""W4 of ``../shared/bench/peers``: durable workflows, with a real ``outlast worker``.

    .venv/bin/python bench/durable_bench.py [pg|sqlite ...]     (default: both)

    N_WF=1000       workflows of 3 durable steps, triggered together (one batch call);
                    reported as wf/s from the trigger to the last completion
    N_SLEEP=20      workflows doing one durable sleep of SLEEP_S=6 seconds (waits under 5 s
                    stay in the process, so 6 s is the shortest that suspends the run);
                    overshoot = when the run resumed (a step records time.time()) minus
                    the due time recorded in the journal, p50 / p95 in ms
    CONCURRENCY=4   worker children
    SWEEPER=server  who wakes due waits: "server" (``outlast server`` runs beside the worker
                    and its scheduler, sweeping every 0.1 s, holds the sweeper lease) or
                    "worker" (no server: the worker's own fallback sweeper, about 1/s)

The worker is ``outlast worker`` from this venv in a temporary project, on a fresh
PostgreSQL database (``BENCH_PG``, default postgresql://postgres@127.0.0.1:5432) or SQLite
file. Completion is seen
the way the peers see it: each workflow appends one byte to a file that is polled.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.store import open_store

N_WF = int(os.environ.get("N_WF", 1000))
N_SLEEP = int(os.environ.get("N_SLEEP", 20))
SLEEP_S = float(os.environ.get("SLEEP_S", 6))
CONCURRENCY = os.environ.get("CONCURRENCY", "4")
SWEEPER = os.environ.get("SWEEPER", "server")
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DB = "bench_durable"
OUTLAST = str(Path(sys.executable).parent / "outlast")

TASKS = '''
import os, time
from outlast import step, task, wait

SINK = os.environ["BENCH_SINK"]


def mark() -> None:
    fd = os.open(SINK, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, b"x")
    os.close(fd)


@task(id="w4-steps")
def three_steps(payload):
    a = step.run("one", lambda: 1)
    b = step.run("two", lambda: a + 1)
    c = step.run("three", lambda: b + 1)
    mark()
    return c


@task(id="w4-sleep")
def sleeper(payload):
    wait.sleep(seconds=payload)
    resumed = step.run("resumed", time.time)
    mark()
    return resumed
'''


def database(store: str, root: Path) -> str:
    if store == "sqlite":
        return f"sqlite:///{root / 'bench.db'}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return f"{PG}/{PG_DB}"


def wait_marks(sink: Path, count: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while (sink.stat().st_size if sink.exists() else 0) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sink.stat().st_size if sink.exists() else 0} of "
                             f"{count} workflows finished in {timeout}s")
        time.sleep(0.002)
    return time.perf_counter()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench(store: str) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="outlast-w4-"))
    (root / "tasks").mkdir()
    (root / "tasks" / "w4.py").write_text(TASKS)
    (root / "outlast.toml").write_text('project = "w4"\ndirs = ["tasks"]\n')
    url = database(store, root)
    sink = root / "sink"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(OUTLAST_DATABASE_URL=url, BENCH_SINK=str(sink))
    subprocess.run([OUTLAST, "migrate"], cwd=root, env=env, check=True, capture_output=True)
    log = open(root / "worker.log", "w")  # noqa: SIM115 - open for the processes' lifetime
    server = _server(root, env, log) if SWEEPER == "server" else None
    worker = subprocess.Popen([OUTLAST, "worker", "--concurrency", CONCURRENCY], cwd=root,
                              env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    engine = Engine(open_store(url))
    client = Client(database_url=url)
    try:
        _registered(engine, worker)
        time.sleep(1.0)  # every child warm
        started = time.perf_counter()
        client.tasks.batch_trigger("w4-steps", [{"payload": i} for i in range(N_WF)])
        ended = wait_marks(sink, N_WF, 600)
        wf_per_s = N_WF / (ended - started)

        ids = [h.id for h in client.tasks.batch_trigger(
            "w4-sleep", [{"payload": SLEEP_S}] * N_SLEEP).runs]
        wait_marks(sink, N_WF + N_SLEEP, SLEEP_S + 120)
        overshoot = [_overshoot(engine, run_id) * 1000 for run_id in ids]
    finally:
        for process in (worker, server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        log.close()
        client.close()
        engine.store.close()
    return {"store": store, "sweeper": SWEEPER, "n_wf": N_WF, "wf_per_s": round(wf_per_s, 1),
            "n_sleep": N_SLEEP, "sleep_s": SLEEP_S,
            "overshoot_p50_ms": round(statistics.median(overshoot), 1),
            "overshoot_p95_ms": round(percentile(overshoot, 95), 1),
            "overshoot_max_ms": round(max(overshoot), 1)}


def _server(root: Path, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """``outlast server`` on a free port, up (and leading the sweeper) before the worker."""
    import socket

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([OUTLAST, "server", "--port", str(port)], cwd=root, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                time.sleep(0.5)  # the scheduler takes the lease on its first pass
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("outlast server did not start")


def _registered(engine: Engine, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            engine.definition("dev", "w4-sleep")
            return
        except Exception:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start") from None
            time.sleep(0.1)


def _overshoot(engine: Engine, run_id: str) -> float:
    """The step's record is written a pass after the step (the attempt does not wait for
    it), so the mark can come first: read the journal once it holds both entries."""
    deadline = time.monotonic() + 10
    journal = engine.durable.run_journal(run_id)
    while len(journal) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
        journal = engine.durable.run_journal(run_id)
    sleep, resumed = journal[:2]
    return float(resumed["result"]) - float(sleep["result"]["until"])


def main(stores: list[str]) -> None:
    for store in stores or ["pg", "sqlite"]:
        print(json.dumps(bench(store)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
