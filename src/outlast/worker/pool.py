"""Child processes of one supervisor: spawn, assign, kill, and explain how one died."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from outlast.worker import child
from outlast.worker.messages import Assignment, HookJob, Stop

# spawn, not fork: the supervisor holds database connections and threads
_CTX = multiprocessing.get_context("spawn")


class Child:
    """One warm child process and the job it is running, if any."""

    def __init__(self, task_dirs: list[str], root: Path, generation: int,
                 task_defaults: dict[str, Any] | None = None) -> None:
        parent_conn, child_conn = _CTX.Pipe()
        self.process: BaseProcess = _CTX.Process(
            target=child.main, args=(child_conn, task_dirs, str(root), task_defaults),
            name="outlast-child",
        )
        self.process.start()
        child_conn.close()
        self.conn: Connection = parent_conn
        self.generation = generation
        self.ready = False
        self.job: Assignment | HookJob | None = None
        self.started_at = 0.0
        self.deadline: float | None = None
        self.killed_for: str | None = None  # why we killed it: "timeout" | "cancel" | "stop"
        self.retire = False

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None and not self.retire

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def assign(self, job: Assignment | HookJob, deadline: float | None) -> None:
        self.job = job
        self.started_at = time.monotonic()
        self.deadline = deadline
        self.conn.send(job)

    def kill(self, reason: str) -> None:
        self.killed_for = reason
        if self.process.is_alive():
            self.process.kill()

    def stop(self, timeout: float = 2.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(Stop())
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()

    def run_id(self) -> str | None:
        return self.job.run["id"] if self.job is not None else None


def describe_exit(exitcode: int | None) -> str:
    """``-11`` → "signal SIGSEGV"; ``3`` → "exit code 3"."""
    if exitcode is None:
        return "an unknown cause"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        hint = " (possibly out of memory)" if -exitcode == signal.SIGKILL else ""
        return f"signal {name}{hint}"
    return f"exit code {exitcode}"


def crash_error(exitcode: int | None) -> dict[str, Any]:
    return {
        "type": "WorkerProcessDied",
        "message": f"the process running the attempt died with {describe_exit(exitcode)}",
    }
