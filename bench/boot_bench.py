"""Worker boot: from starting a worker process to its first run finished, and to all done.

    python bench/boot_bench.py [--stores sqlite pg] [--n 10000] [--repeats 3]
        [--variant new=.venv/bin/python --variant old=/work/wt/x/.venv/bin/python]
        [--cli] [--out bench/results.jsonl]

Each repeat: a fresh database (``_databases.fresh_database``), the bench tasks registered
and ``--n`` no-op runs queued (``batch_trigger``), then ``run_worker.py URL`` started as a
new process, exactly as W2 of the peer benchmark starts it. Timed from just before the
process is started: ``boot_s`` to the first completion (the job bodies' O_APPEND marks, the
peers' own ``common.wait_done``), ``all_s`` to the last. Variants (an interpreter each,
e.g. the venvs of two checkouts) run in alternating order within every round; the worker
script is this checkout's ``run_worker.py`` for all of them. One JSON line per worker
start on stdout (and appended to ``--out``), with the load average and the boot
milestones (``_boot_trace.py``) in seconds since the start.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BENCH_DIR = tempfile.mkdtemp(prefix="outlast-boot-")
os.environ["BENCH_DIR"] = BENCH_DIR  # where the job bodies mark completions

from _databases import fresh_database  # noqa: E402
from _peers import load_common  # noqa: E402

C = load_common()
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "")  # databases of one's own on a shared server
CHUNK = 1000


def queue_runs(url: str, n: int) -> None:
    """Migrate, register the bench tasks, queue ``n`` no-op runs (in this process)."""
    from tasks import bench_tasks

    from outlast import Client
    from outlast.engine import Engine
    from outlast.store import open_store

    store = open_store(url)
    store.migrate()
    Engine(store).register_tasks("dev", [bench_tasks.noop.definition(),
                                         bench_tasks.lat.definition()])
    store.close()
    with Client(database_url=url, environment="dev") as client:
        for start in range(0, n, CHUNK):
            client.tasks.batch_trigger("noop", [{"payload": None}] * min(CHUNK, n - start))


def worker_command(python: str, url: str, concurrency: int, cli: bool) -> list[str]:
    if cli:
        return [os.path.join(os.path.dirname(os.path.abspath(python)), "outlast"), "worker",
                "--database-url", url,
                "--concurrency", str(concurrency)]
    return [python, str(HERE / "run_worker.py"), url, "--concurrency", str(concurrency)]


def cli_project() -> Path:
    """A project folder for ``outlast worker``: its ``tasks`` are copies of the bench tasks
    (and of ``_peers.py``, which they import)."""
    project = Path(BENCH_DIR) / "project"
    if not project.exists():
        (project / "tasks").mkdir(parents=True)
        (project / "outlast.toml").write_text('project = "boot-bench"\ndirs = ["tasks"]\n')
        shutil.copy(HERE / "tasks" / "bench_tasks.py", project / "tasks")
        shutil.copy(HERE / "_peers.py", project)
    return project


def boot_once(python: str, url: str, n: int, concurrency: int,
              cli: bool = False) -> dict[str, object]:
    """Start a worker on ``url`` (``n`` runs queued) and time it; stops it afterwards."""
    C.reset()
    trace = Path(BENCH_DIR) / "trace"
    trace.unlink(missing_ok=True)
    env = {**os.environ, "OUTLAST_BOOT_TRACE": str(trace)}
    load = os.getloadavg()[0]
    t0 = time.time()
    with open(Path(BENCH_DIR) / "worker.log", "ab") as log:
        worker = subprocess.Popen(
            worker_command(python, url, concurrency, cli), stdout=subprocess.DEVNULL,
            stderr=log, start_new_session=True, env=env, cwd=cli_project() if cli else None)
        try:
            first, last = C.wait_done(n, timeout=600)
        finally:
            C.stop_worker(worker)
    marks = {}
    for line in trace.read_text().splitlines() if trace.exists() else []:
        name, at = line.split()
        marks[name] = round(float(at) - t0, 4)
    return {"boot_s": round(first - t0, 4), "all_s": round(last - t0, 4),
            "w2": round(n / (last - t0), 1), "load1": round(load, 2), "marks": marks}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", nargs="+", default=["sqlite", "pg"])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=PYTHON",
                    help="an interpreter to start the worker with (default: this one)")
    ap.add_argument("--cli", action="store_true", help="start `outlast worker` instead")
    ap.add_argument("--out", help="also append the JSON lines to this file")
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in args.variant] or [["this", sys.executable]]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for rnd in range(args.repeats):
        order = variants if rnd % 2 == 0 else variants[::-1]
        for store in args.stores:
            for name, python in order:
                with fresh_database(store, DB_PREFIX + "bench_boot") as url:
                    queue_runs(url, args.n)
                    result = boot_once(python, url, args.n, args.concurrency, args.cli)
                line = json.dumps({"bench": "boot_cli" if args.cli else "boot",
                                   "store": store, "variant": name,
                                   "round": rnd, "n": args.n, **result})
                print(line, flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(line + "\n")


if __name__ == "__main__":
    main()
