"""Child processes of one supervisor: spawn, assign, kill, and explain how one died."""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from outlast.worker import forkserver
from outlast.worker.messages import Assignment, HookJob, Stop


class Child:
    """One warm child process and the job it is running, if any."""

    def __init__(self, task_dirs: list[str], root: Path, generation: int,
                 task_defaults: dict[str, Any] | None = None, record_ahead: int = 0) -> None:
        """``record_ahead``: the largest step result the child records without waiting
        (``child.main``)."""
        parent_conn, child_conn = forkserver.CONTEXT.Pipe()
        self.process: BaseProcess = forkserver.start(lambda: forkserver.CONTEXT.Process(
            target=forkserver.child_main,
            args=(child_conn, task_dirs, str(root), task_defaults, dict(os.environ),
                  record_ahead),
            name=forkserver.CHILD_NAME,
        ))
        child_conn.close()
        #: the fork server this child came from: its death ends the child (see child.py)
        self.server = forkserver.server_pid()
        self.conn: Connection = parent_conn
        self.generation = generation
        self.ready = False
        self.job: Assignment | HookJob | None = None
        #: sent behind ``job``; the child starts each as soon as the one before ends
        self.queued: deque[Assignment] = deque()
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

    def load(self) -> int:
        """Jobs this child holds: the one running and those waiting in its pipe."""
        return (self.job is not None) + len(self.queued)

    def can_take(self, depth: int) -> bool:
        """Room for another assignment (a hook job always runs alone)."""
        if not self.ready or self.retire or isinstance(self.job, HookJob):
            return False
        return self.load() < depth

    def send(self, message: Any) -> bool:
        """Send ``message``; False when the child is gone (its pipe is closed or broken).

        A dead pipe is this child's death, never the supervisor's error: the child is
        retired, and reaping it records its job as crashed and hands its queued runs back.
        """
        try:
            self.conn.send(message)
        except (OSError, ValueError):  # BrokenPipeError, ConnectionResetError, closed handle
            self.retire = True
            return False
        return True

    def assign(self, job: Assignment | HookJob, deadline: float | None) -> bool:
        """Start ``job`` in this idle child; False (and no job kept) when it is gone."""
        if not self.send(job):  # first: a child that already died keeps no job it never got
            return False
        self.job = job
        self.started_at = time.monotonic()
        self.deadline = deadline
        return True

    def send_batch(self, jobs: list[Assignment]) -> bool:
        """Give runs to this child in one message; it starts each when the one before ends.

        False when the child is gone (its pipe is closed): the caller keeps the runs. The
        child is retired and replaced when the supervisor reaps it.
        """
        if not self.send(jobs[0] if len(jobs) == 1 else jobs):
            return False
        if self.job is None:
            self.job, rest = jobs[0], jobs[1:]
            self.started_at = time.monotonic()
            self.deadline = run_deadline(self.job, self.started_at)
        else:
            rest = jobs
        self.queued.extend(rest)
        return True

    def advance(self) -> None:
        """The current job ended: the next queued one (if any) is now running."""
        self.job, self.deadline = None, None
        if self.queued:
            self.job = self.queued.popleft()
            self.started_at = time.monotonic()
            self.deadline = run_deadline(self.job, self.started_at)

    def held(self) -> list[Assignment]:
        """Every attempt whose lease this child's supervisor must keep alive."""
        head = [self.job] if isinstance(self.job, Assignment) else []
        return head + list(self.queued)

    def kill(self, reason: str) -> None:
        self.killed_for = reason
        if self.process.is_alive():
            self.process.kill()

    def stop(self, timeout: float = 2.0) -> None:
        self.send(Stop())
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.conn.close()

    def crash_error(self) -> dict[str, Any]:
        """The attempt error for this child's death (its process has ended)."""
        return crash_error(self.process.exitcode)

    def died_with_server(self) -> bool:
        """Did this child end because its fork server died (the platform's fault) rather
        than first for a reason of its own? Only the server reports a child's exit code,
        so a child that died first has its real code; one that died with it has none."""
        if self.server is None or not forkserver.exited(self.server):
            return False
        return lost_with_server(self.process.exitcode)

    def run_id(self) -> str | None:
        return self.job.run["id"] if self.job is not None else None


#: the exit code ``multiprocessing`` gives a child whose fork server ended before it
#: reported the child's own (the server died first, and the child with it: ``child.py``)
NO_REPORT_EXIT = 255


def lost_with_server(exitcode: int | None) -> bool:
    """A child of a fork server that has died: was its exit code never reported?"""
    return exitcode is None or exitcode == NO_REPORT_EXIT


def run_deadline(job: Assignment, started: float) -> float | None:
    """When the attempt must be stopped: what is left of the run's ``max_duration``."""
    limit = job.run.get("max_duration")
    if not limit:
        return None
    return started + max(0.0, float(limit) - float(job.run.get("execution_seconds") or 0.0))


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
