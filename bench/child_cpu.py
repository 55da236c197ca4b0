"""CPU per run of one worker child alone: no supervisor, no database.

    .venv/bin/python bench/child_cpu.py [async|sync] [N] [BATCH]   (default: async 40000 50)

Forks one child (``outlast.worker.child.main``) with two no-op tasks, hands it N
assignments BATCH at a time as the supervisor does (one list per message; async ones
``shared``; each with its machine's memory limit, as a worker enforces it), reads its
reports, and prints the child's CPU (user + system) per run in µs, its imports excluded,
as one JSON line. What ``cpu_per_run.py``'s children figure holds, less the start and the
noise of a drain: for A/B rounds of the child's own path (``PYTHONPATH`` at each
checkout's ``src``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from outlast.machines import machine
from outlast.worker import child, lease_clock
from outlast.worker.messages import Assignment, Finished, Ready, Stop

HZ = os.sysconf("SC_CLK_TCK")
MEMORY = machine("small-1x").memory_bytes  # the runs' preset (``row``)
TASKS = '''
from outlast import task

@task(id="child-cpu-async")
async def anoop(payload: object) -> None:
    pass

@task(id="child-cpu-sync")
def snoop(payload: object) -> None:
    pass
'''


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def row(i: int, task_id: str) -> dict[str, Any]:
    """A claimed run's fields as the supervisor hands them (``claim_ahead.run_fields``)."""
    run_id = f"run_{i:020d}"
    return {"id": run_id, "task_id": task_id, "payload": "null", "attempt_count": 1,
            "max_attempts": 3, "tags": "[]", "metadata": "{}", "created_at": time.time(),
            "queue": "default", "machine": "small-1x", "replayed_from": None,
            "parent_id": None, "root_id": run_id, "idempotency_key": None,
            "max_duration": None, "execution_seconds": 0.0, "status": "EXECUTING",
            "error": None, "environment": "dev", "traceparent": None}


def drain(conn: Any, n: int, batch: int, shared: bool) -> None:
    task_id = "child-cpu-async" if shared else "child-cpu-sync"
    for start in range(0, n, batch):
        jobs = [Assignment(row(i, task_id), f"lease_{i}", 1, MEMORY, "dev", journal=[],
                           shared=shared, held_until=time.monotonic() + 600)
                for i in range(start, min(n, start + batch))]
        conn.send(jobs)
        ended = 0
        while ended < len(jobs):
            message = conn.recv()
            for one in message if isinstance(message, list) else [message]:
                if isinstance(one, Finished):
                    assert one.kind == "completed", one
                    ended += 1


def main(mode: str, n: int, batch: int) -> None:
    leases = lease_clock.LeaseClock.create()
    assert leases is not None
    leases.extend(time.monotonic() + 3600)
    root = tempfile.mkdtemp(prefix="outlast-child-cpu-")
    (Path(root) / "child_cpu_tasks.py").write_text(TASKS)
    fork = multiprocessing.get_context("fork")
    parent, end = fork.Pipe()
    process = fork.Process(target=child.main, args=(end, ["."], root),
                           kwargs={"leases": leases, "record_ahead": 65536})
    process.start()
    ready = parent.recv()
    assert isinstance(ready, Ready) and not ready.error, ready
    assert process.pid is not None
    before, started = cpu(process.pid), time.time()
    drain(parent, n, batch, shared=mode == "async")
    used, wall = cpu(process.pid) - before, time.time() - started
    parent.send(Stop())
    process.join(10)
    print(json.dumps({"mode": mode, "n": n, "batch": batch,
                      "child_us_per_run": round(used * 1e6 / n, 2),
                      "wall_us_per_run": round(wall * 1e6 / n, 2),
                      "loadavg": Path("/proc/loadavg").read_text()[:14]}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0] if args else "async", int(args[1]) if len(args) > 1 else 40_000,
         int(args[2]) if len(args) > 2 else 50)
