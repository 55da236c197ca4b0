"""CPU per run in a worker's drain: the worker's processes and the database's, apart.

    .venv/bin/python bench/cpu_per_run.py [pg|sqlite]     (default: pg; N=10000)

Queues N no-op runs (``bench/tasks/bench_tasks.py``), starts ``bench/run_worker.py``
(4 children), waits until every run is done, then reads the CPU (user + system) of the
supervisor, of its children (fork server included) and of the PostgreSQL backends
connected to this benchmark's database, and prints each per run, in ms, as one JSON
line. CPU, not wall time, so rounds of old and new code on a busy machine still compare;
the children's figure includes their start (imports), spread over N runs. ``CPU_PG_DB``
names the database (default ``bench_cpu_per_run``), so two checkouts' rounds can alternate.
``QUEUE=single`` queues the runs one trigger each (the peers' W2), not in batches.

``runs_per_s`` counts to the last job body's mark, as the peers' W2 does; ``recorded_per_s``
to the moment every run is final in the database (PostgreSQL: a worker's end writer may
still hold ends when the last body has run). The database's CPU is read after that.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("BENCH_DIR", "/tmp/outlast-cpu-per-run")
SINK = Path(os.environ["BENCH_DIR"])
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("CPU_PG_DB", "bench_cpu_per_run")
HZ = os.sysconf("SC_CLK_TCK")


def database(store: str) -> str:
    if store == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (SINK / f"cpu.db{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{SINK / 'cpu.db'}"
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return f"{PG}/{DB}"


def queue(url: str, n: int) -> None:
    from tasks import bench_tasks

    from outlast import Client
    from outlast.engine import Engine
    from outlast.store import open_store

    store = open_store(url)
    store.migrate()
    Engine(store).register_tasks("dev", [bench_tasks.noop.definition()])
    store.close()
    with Client(database_url=url, environment="dev") as client:
        if os.environ.get("QUEUE") == "single":  # as the peers' W2: one trigger each
            for _ in range(n):
                client.tasks.trigger("noop", None)
        else:
            for start in range(0, n, 1000):
                client.tasks.batch_trigger("noop", [{"payload": None}] * min(1000, n - start))


def cpu(pid: int | str) -> float:
    """Seconds of CPU (user + system) process ``pid`` used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / HZ


def backends() -> dict[str, float]:
    """CPU of each PostgreSQL backend connected to this benchmark's database."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_text()
        except OSError:
            continue
        if command.startswith("postgres:") and f" {DB} " in command:
            out[pid] = cpu(pid)
    return out


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(pid))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def all_final(url: str) -> float:
    """Wait until every run is final in the database (the bench's no-ops complete); the
    time then."""
    query = "SELECT count(*) FROM runs WHERE status <> 'COMPLETED'"
    if url.startswith("sqlite"):
        import sqlite3

        conn: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
    else:
        import psycopg

        conn = psycopg.connect(url, autocommit=True)
    try:
        while conn.execute(query).fetchone()[0]:
            time.sleep(0.005)
    finally:
        conn.close()
    return time.time()


def main(store: str) -> None:
    n = int(os.environ.get("N", 10_000))
    SINK.mkdir(parents=True, exist_ok=True)
    url = database(store)
    queue(url, n)
    done = SINK / "done"
    done.write_bytes(b"")
    before = backends()
    started = time.time()
    worker = subprocess.Popen([sys.executable, str(HERE / "run_worker.py"), url,
                               "--concurrency", "4"], start_new_session=True)
    while done.stat().st_size < n:
        time.sleep(0.005)
    wall = time.time() - started
    children = sum(cpu(pid) for pid in descendants(worker.pid))
    supervisor = cpu(worker.pid)
    recorded = all_final(url) - started
    database_cpu = sum(v - before.get(k, 0.0) for k, v in backends().items())
    worker.send_signal(signal.SIGTERM)  # the supervisor alone: it drains its children
    worker.wait(60)
    per_run = 1000 / n
    print(json.dumps({
        "store": store, "n": n, "wall_s": round(wall, 2), "runs_per_s": round(n / wall),
        "recorded_per_s": round(n / recorded),
        "supervisor_ms_per_run": round(supervisor * per_run, 4),
        "children_ms_per_run": round(children * per_run, 4),
        "database_ms_per_run": round(database_cpu * per_run, 4) if store == "pg" else None,
        "loadavg": Path("/proc/loadavg").read_text()[:14],
    }))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pg")
