"""Child processes of one supervisor: spawn, assign, kill, and explain how one died."""

from __future__ import annotations

import heapq
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Container
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from outlast.worker import forkserver
from outlast.worker.child_pipe import ChildPipe
from outlast.worker.lease_clock import LeaseClock
from outlast.worker.messages import Assignment, Cancel, HookJob, Stop

#: seconds a shared run told to stop (``Cancel``) has to end before its child is killed,
#: and the runs beside it with it
STOP_GRACE = 5.0


class Child:
    """One warm child process and the job it is running, if any."""

    def __init__(self, task_dirs: list[str], root: Path, generation: int,
                 task_defaults: dict[str, Any] | None = None, record_ahead: int = 0,
                 leases: LeaseClock | None = None) -> None:
        """``record_ahead``: the largest step result the child records without waiting
        (``child.main``); ``leases``: the supervisor's lease clock (``lease_clock.py``)."""
        parent_conn, child_conn = forkserver.CONTEXT.Pipe()
        self.process: BaseProcess = forkserver.start(lambda: forkserver.CONTEXT.Process(
            target=forkserver.child_main,
            args=(child_conn, task_dirs, str(root), task_defaults, dict(os.environ),
                  record_ahead, leases),
            name=forkserver.CHILD_NAME,
        ))
        child_conn.close()
        #: the fork server this child came from: its death ends the child (see child.py)
        self.server = forkserver.server_pid()
        self.conn: Connection = parent_conn
        #: what is sent to the child and read from it goes through here: a send never
        #: waits for the child to read (``child_pipe.py``)
        self.pipe = ChildPipe(parent_conn)
        self.generation = generation
        self.ready = False
        self.job: Assignment | HookJob | None = None
        #: sent behind ``job``; the child starts each as soon as the one before ends
        self.queued: deque[Assignment] = deque()
        self.started_at = 0.0
        self.deadline: float | None = None
        self.killed_for: str | None = None  # why we killed it: "timeout" | "cancel" | "stop"
        self.retire = False
        #: shared runs in flight, by run id (``shared_runs.py``; runs claimed together share
        #: a lease id), and when each started
        self.shared: dict[str, Assignment] = {}
        self.shared_started: dict[str, float] = {}
        #: their ``max_duration`` deadlines, worked out once as each starts
        self.shared_due = Deadlines()
        #: shared runs told to stop (``Cancel``): why, and when to kill the child if one
        #: has not ended by then (it ignored the cancellation, or blocks its loop)
        self.stopping: dict[str, tuple[str, float]] = {}

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None and not self.shared and not self.retire

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def load(self) -> int:
        """Jobs this child holds: the one running, those waiting in its pipe and its
        shared runs."""
        return (self.job is not None) + len(self.queued) + len(self.shared)

    def can_take(self, depth: int) -> bool:
        """Room for another sync assignment (a hook job always runs alone; sync runs do
        not join shared ones)."""
        if not self.ready or self.retire or isinstance(self.job, HookJob) or self.shared:
            return False
        return self.load() < depth

    def shared_room(self, slots: int) -> int:
        """How many more shared runs this child takes: none while it runs anything else."""
        if not self.ready or self.retire or self.job is not None:
            return 0
        return max(0, slots - len(self.shared))

    def hold_shared(self, jobs: list[Assignment]) -> None:
        """Count ``jobs`` among this child's shared runs before they are sent (``deliver``):
        what the worker claims next sees them held."""
        now = time.monotonic()
        for job in jobs:
            run_id = job.run["id"]
            self.shared[run_id] = job
            self.shared_started[run_id] = now
            due = run_deadline(job, now)
            if due is not None:
                self.shared_due.set(run_id, due)

    def deliver(self, jobs: list[Assignment], shared: bool, started_one: bool = False) -> bool:
        """Send ``jobs``, held already (``hold_shared``, ``hold_batch``: ``started_one``
        is what it returned); when the child is gone, it holds them no longer and False
        says so: the caller keeps the runs."""
        if self.send(jobs[0] if len(jobs) == 1 else jobs):
            return True
        if shared:
            for job in jobs:
                run_id = job.run["id"]
                self.shared.pop(run_id, None)
                self.shared_started.pop(run_id, None)
                self.shared_due.drop(run_id)
            return False
        for _ in range(len(jobs) - started_one):
            self.queued.pop()
        if started_one:
            self.job, self.deadline = None, None
        return False

    def has_shared(self, run_id: str, lease_id: str) -> bool:
        """Is this attempt (run and lease) one of this child's shared runs?"""
        job = self.shared.get(run_id)
        return job is not None and job.lease_id == lease_id

    def end_shared(self, run_id: str) -> tuple[Assignment, float, str | None] | None:
        """A shared run ended: its job, when it started, and why it was stopped (None:
        it ended by itself). None when it is not one of this child's."""
        job = self.shared.pop(run_id, None)
        if job is None:
            return None
        started = self.shared_started.pop(run_id)
        self.shared_due.drop(run_id)
        why = self.stopping.pop(run_id, None)
        return job, started, None if why is None else why[0]

    def stop_shared(self, run_id: str, why: str, grace: float) -> None:
        """Cancel one shared run (``Cancel``); the child is killed if it has not ended
        within ``grace`` seconds."""
        if run_id in self.shared and run_id not in self.stopping:
            self.stopping[run_id] = (why, time.monotonic() + grace)
            self.send(Cancel(run_id))

    def overdue_shared(self, now: float) -> list[str]:
        """The shared runs past their ``max_duration`` deadline at ``now`` and not told to
        stop yet. Their deadlines are gone once named, so the caller must stop each
        (``stop_shared``): every run with a deadline is in ``shared`` (both are dropped
        together), and a run leaves ``stopping`` only as it ends (``end_shared``)."""
        return self.shared_due.overdue(now, self.stopping)

    def next_due(self) -> float | None:
        """The earliest moment something about this child must be enforced (asked on
        every turn of the loop: a child running one sync run, or shared runs with no
        deadline, answers without making a list)."""
        shared = self.shared_due.earliest(self.stopping) if self.shared else None
        if not self.stopping:
            if shared is None or self.deadline is None:
                return self.deadline if shared is None else shared
            return min(shared, self.deadline)
        due = [at for _, at in self.stopping.values()]
        if shared is not None:
            due.append(shared)
        if self.deadline is not None:
            due.append(self.deadline)
        return min(due)

    def send(self, message: Any) -> bool:
        """Send ``message``; False when the child is gone (its pipe is closed or broken).

        A dead pipe is this child's death, never the supervisor's error: the child is
        retired, and reaping it records its job as crashed and hands its queued runs back.
        What the pipe cannot take yet is written later (``child_pipe.py``): the child gets
        every message, in order, and the supervisor never waits for it to read.
        """
        try:
            self.pipe.send(message)
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

    def hold_batch(self, jobs: list[Assignment]) -> bool:
        """Hold ``jobs`` (the first starts now if this child is idle, the others queue)
        before they are sent (``deliver``); whether the first started."""
        if self.job is None:
            self.job, rest = jobs[0], jobs[1:]
            self.started_at = time.monotonic()
            self.deadline = run_deadline(self.job, self.started_at)
        else:
            rest = jobs
        self.queued.extend(rest)
        return len(rest) < len(jobs)

    def advance(self) -> None:
        """The current job ended: the next queued one (if any) is now running."""
        self.job, self.deadline = None, None
        if self.queued:
            self.job = self.queued.popleft()
            self.started_at = time.monotonic()
            self.deadline = run_deadline(self.job, self.started_at)

    def held(self) -> list[Assignment]:
        """Every attempt whose lease this child's supervisor must keep alive."""
        return self.held_alone() + list(self.shared.values())

    def held_alone(self) -> list[Assignment]:
        """The sync attempts among them: the running one first, then those queued."""
        head = [self.job] if isinstance(self.job, Assignment) else []
        return head + list(self.queued)

    def kill(self, reason: str) -> None:
        self.killed_for = reason
        if self.process.is_alive():
            self.process.kill()

    def stop(self, timeout: float = 2.0) -> None:
        self.send(Stop())  # behind what the child has not read yet: it may never get it
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        self.close()

    def close(self) -> None:
        """Close this end of the pipe (the child has ended or was stopped)."""
        self.pipe.close()
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


class FirstChildren:
    """A worker's first children, started from a thread while the supervisor does its
    first database work (listening, registering the worker).

    Starting a child waits for the fork server: until its imports are done (at a worker's
    start it is one process start old), then for each fork. Meanwhile the supervisor's
    thread has its own round trips to make; the children import the task modules during
    them instead of after them, and the first is ready that much sooner.
    """

    def __init__(self, make: Callable[[], Child], count: int) -> None:
        self._make = make
        self._count = count
        self._children: list[Child] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="outlast-first-children",
                                        daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            while len(self._children) < self._count:
                self._children.append(self._make())
        except BaseException as exc:  # raised to the supervisor's thread by ``started``
            self._error = exc

    def started(self) -> list[Child]:
        """The children, once all started; the error of a start that failed (those that
        did start are stopped)."""
        self._thread.join()
        if self._error is not None:
            self.stop()
            raise self._error
        return self._children

    def stop(self) -> None:
        """Stop whatever was started (the worker is not going ahead)."""
        self._thread.join()
        for child in self._children:
            child.stop(timeout=1.0)
        self._children = []


#: the exit code ``multiprocessing`` gives a child whose fork server ended before it
#: reported the child's own (the server died first, and the child with it: ``child.py``)
NO_REPORT_EXIT = 255


def lost_with_server(exitcode: int | None) -> bool:
    """A child of a fork server that has died: was its exit code never reported?"""
    return exitcode is None or exitcode == NO_REPORT_EXIT


class Deadlines:
    """Deadlines by key (a child's shared runs' ``max_duration``), the earliest read on
    every turn of the supervisor's loop: a hundred shared runs a child, listed each turn,
    were 4% of its time in a drain. A heap of (deadline, key), earliest first; entries of
    keys dropped or skipped are removed when they reach the top, and the heap is rebuilt
    when such entries outnumber the live ones (an ended run's waits for its deadline)."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}
        self._order: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._at)

    def set(self, key: str, at: float) -> None:
        self._at[key] = at
        heapq.heappush(self._order, (at, key))
        if len(self._order) > 2 * len(self._at) + 64:
            self._order = [(due, k) for k, due in self._at.items()]
            heapq.heapify(self._order)

    def drop(self, key: str) -> None:
        self._at.pop(key, None)

    def earliest(self, skip: Container[str] = ()) -> float | None:
        """The earliest deadline of a key not in ``skip``: keys once skipped stay so (a
        run told to stop is not told again), so their entries go."""
        order, live = self._order, self._at
        while order:
            at, key = order[0]
            if live.get(key) == at and key not in skip:
                return at
            heapq.heappop(order)
        return None

    def overdue(self, now: float, skip: Container[str] = ()) -> list[str]:
        """The keys not in ``skip`` whose deadline is at or before ``now``, earliest
        first, each named once."""
        found: list[str] = []
        while (at := self.earliest(skip)) is not None and at <= now:
            key = heapq.heappop(self._order)[1]
            if key not in found:
                found.append(key)
        return found


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
