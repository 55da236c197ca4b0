"""How late runs resume after a durable sleep while a flood of fresh runs is queued.

    .venv/bin/python bench/resume_bench.py [--store sqlite|pg|both] [-n 10000] [--sleep 30]
        [--backlog 5000] [--concurrency 4] [--sweeper server|worker]

N runs each sleep S seconds (``wait.sleep``, long enough to suspend: over 5 s). Once they
are triggered, a feeder keeps about ``--backlog`` fresh runs (a no-op task) queued in the
same queue until every sleeper has finished, so each sleeper comes back to a queue full of
older fresh runs. One ``outlast worker`` (and by default ``outlast server``, whose
scheduler wakes due waits) on a fresh SQLite file or PostgreSQL database
(``OUTLAST_BENCH_PG_URL``).

Reported per sleeper, in ms, p50 / p99 / max:

- ``wake``  the wait's ``resume`` event minus its due time (the timer's part);
- ``claim`` the resumed attempt's ``start_attempt`` event minus the ``resume`` event (the
  time spent queued: the claim order's part);
- ``late``  the resumed attempt's start minus the due time (the two together);
- ``ran``   when the sleeper's code after the sleep ran minus the due time: what its user
  sees. A claimed run's attempt starts when it is claimed, so ``late`` leaves out the time
  it then waits in the worker's buffer and a child's pipe, and the replay up to the sleep.

and, while sleepers were due (first due time to the last sleeper's code after the sleep), fresh runs
completed per second and all runs per second (fresh completions plus resumed starts: what
the worker got through, whichever went first), and fresh runs per second over the whole
run (which depends on how long the run lasted: sleepers that resume late leave the worker
to fresh runs for longer).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _databases import fresh_database

from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.store import open_store

OUTLAST = str(Path(sys.executable).parent / "outlast")
PG_DB = "outlast_resume_bench"
BATCH = 1000  # the API's batch limit

TASKS = '''
import os
import time
from outlast import task, wait


def mark(sink: str, line: bytes = b"x") -> None:
    fd = os.open(os.environ[sink], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, line)
    os.close(fd)


@task(id="rb-sleep", queue="rb")
def sleeper(payload, ctx):
    wait.sleep(seconds=payload)
    mark("BENCH_SLEEP_SINK", f"{ctx.run.id} {time.time()}\\n".encode())


@task(id="rb-fresh", queue="rb")
def fresh(payload):
    mark("BENCH_FRESH_SINK")
'''


def size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def spread(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 1), "p99": round(percentile(values, 99), 1),
            "max": round(max(values), 1)}


class Feeder(threading.Thread):
    """Keeps about ``backlog`` fresh runs queued (triggered minus completed), and samples
    how many fresh runs have completed, until ``stop`` is set."""

    def __init__(self, url: str, sink: Path, backlog: int) -> None:
        super().__init__(daemon=True)
        self.url, self.sink, self.backlog = url, sink, backlog
        self.stop = threading.Event()
        self.triggered = 0
        self.samples: list[tuple[float, int]] = []

    def run(self) -> None:
        with Client(database_url=self.url) as client:
            while not self.stop.is_set():
                done = size(self.sink)
                self.samples.append((time.time(), done))
                if self.triggered - done < self.backlog:
                    client.tasks.batch_trigger("rb-fresh", [{"payload": 0}] * BATCH)
                    self.triggered += BATCH
                else:
                    time.sleep(0.05)

    def completed_at(self, moment: float) -> int:
        """Fresh runs completed by ``moment`` (the last sample at or before it)."""
        seen = [n for t, n in self.samples if t <= moment]
        return seen[-1] if seen else 0


def bench(store: str, args: argparse.Namespace) -> dict[str, Any]:
    with fresh_database(store, PG_DB) as url, tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        return _bench(store, url, root, args)


def _bench(store: str, url: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    (root / "tasks").mkdir()
    (root / "tasks" / "rb.py").write_text(TASKS)
    (root / "outlast.toml").write_text('project = "rb"\ndirs = ["tasks"]\n')
    sleep_sink, fresh_sink = root / "sleep.sink", root / "fresh.sink"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(OUTLAST_DATABASE_URL=url, BENCH_SLEEP_SINK=str(sleep_sink),
               BENCH_FRESH_SINK=str(fresh_sink))
    subprocess.run([OUTLAST, "migrate"], cwd=root, env=env, check=True, capture_output=True)
    log = open(root / "processes.log", "w")  # noqa: SIM115 - open for the processes' lifetime
    server = _server(root, env, log) if args.sweeper == "server" else None
    worker = subprocess.Popen([OUTLAST, "worker", "--concurrency", str(args.concurrency)],
                              cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    engine = Engine(open_store(url))
    feeder = Feeder(url, fresh_sink, args.backlog)
    try:
        _registered(engine, worker)
        time.sleep(1.0)  # every child warm
        began = time.time()
        ids = _trigger_sleepers(url, args.n, args.sleep)
        feeder.start()
        _wait_for(sleep_sink, args.n, args.sleep + 600)
        ended = time.time()
    finally:
        feeder.stop.set()
        for process in (worker, server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(60)
        log.close()
        if args.log:
            shutil.copy(root / "processes.log", args.log)
    try:
        ran = _ran(sleep_sink)
        times = [(*_times(engine, run_id), ran[run_id]) for run_id in ids]
    finally:
        engine.store.close()
    if args.dump:
        rows = zip(ids, times, strict=True)
        Path(args.dump).write_text("".join(
            f"{run_id} {' '.join(f'{t:.4f}' for t in row)}\n" for run_id, row in rows))
    return _report(store, args, times, feeder, began, ended)


def _trigger_sleepers(url: str, n: int, seconds: float) -> list[str]:
    ids: list[str] = []
    with Client(database_url=url) as client:
        for start in range(0, n, BATCH):
            handle = client.tasks.batch_trigger(
                "rb-sleep", [{"payload": seconds}] * min(BATCH, n - start))
            ids += [h.id for h in handle.runs]
    return ids


def _wait_for(sink: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while lines(sink) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {lines(sink)} of {count} sleepers finished in {timeout}s")
        time.sleep(0.05)


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _ran(sink: Path) -> dict[str, float]:
    """When each sleeper's code after the sleep ran (its first line: a retry would add one)."""
    ran: dict[str, float] = {}
    for line in sink.read_text().splitlines():
        run_id, at = line.split()
        ran.setdefault(run_id, float(at))
    return ran


def _times(engine: Engine, run_id: str) -> tuple[float, float, float]:
    """(due, resumed, restarted): the sleep's due time, the ``resume`` event and the
    ``start_attempt`` event after it."""
    due = float(engine.durable.run_journal(run_id)[0]["result"]["until"])
    evts = engine.events(run_id)
    resumed = next(float(e["at"]) for e in evts if e["kind"] == "resume")
    restarted = next(float(e["at"]) for e in evts
                     if e["kind"] == "start_attempt" and float(e["at"]) >= resumed)
    return due, resumed, restarted


def _report(store: str, args: argparse.Namespace,
            times: list[tuple[float, float, float, float]],
            feeder: Feeder, began: float, ended: float) -> dict[str, Any]:
    first_due = min(t[0] for t in times)
    last_start = max(t[3] for t in times)
    window = max(last_start - first_due, 1e-9)
    during = feeder.completed_at(last_start) - feeder.completed_at(first_due)
    return {
        "store": store, "n": args.n, "sleep_s": args.sleep, "backlog": args.backlog,
        "concurrency": args.concurrency, "sweeper": args.sweeper,
        "wake_ms": spread([(r - d) * 1000 for d, r, _, _ in times]),
        "claim_ms": spread([(s - r) * 1000 for _, r, s, _ in times]),
        "late_ms": spread([(s - d) * 1000 for d, _, s, _ in times]),
        "ran_ms": spread([(a - d) * 1000 for d, _, _, a in times]),
        "fresh_per_s_while_due": round(during / window, 1),
        "runs_per_s_while_due": round((during + len(times)) / window, 1),
        "fresh_per_s_overall": round(size_at_end(feeder) / max(ended - began, 1e-9), 1),
    }


def size_at_end(feeder: Feeder) -> int:
    return feeder.samples[-1][1] if feeder.samples else 0


def _server(root: Path, env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """``outlast server`` on a free port, up (and leading the sweeper) before the worker."""
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
            engine.definition("dev", "rb-fresh")
            return
        except Exception:
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the worker did not start") from None
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "pg", "both"], default="both")
    parser.add_argument("-n", type=int, default=10_000, help="sleeping runs")
    parser.add_argument("--sleep", type=float, default=30.0, help="seconds each sleeps")
    parser.add_argument("--backlog", type=int, default=5000, help="fresh runs kept queued")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--sweeper", choices=["server", "worker"], default="server")
    parser.add_argument("--log", help="keep the server's and worker's output in this file")
    parser.add_argument("--dump", help="write each sleeper's id, due, resume, start and ran "
                                       "times (epoch seconds) to this file")
    args = parser.parse_args()
    stores = ["sqlite", "pg"] if args.store == "both" else [args.store]
    for store in stores:
        print(json.dumps(bench("postgres" if store == "pg" else store, args)), flush=True)


if __name__ == "__main__":
    main()
