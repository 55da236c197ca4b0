"""Claiming ahead: how many runs a worker claims per pass, and which child gets which.

A worker whose runs are short would spend most of its time waiting for the database
between runs. Once recent attempts took less than ``PREFETCH_BELOW`` seconds on average,
a child whose current task is known to be short gets up to ``PIPE_MAX`` runs (about
``PIPE_WINDOW`` seconds of work) queued in its pipe, sent as one message; each starts the
moment the one before ends, so children keep working while a database pass is in flight.
Long runs are never claimed ahead, so they cannot wait behind each other while another
worker idles.

Beyond what the children hold, the supervisor keeps as many claimed runs in ``buffer`` as
their pipes queue (``concurrency`` at least). With ``concurrency`` alone, a drain of a sync
task's short runs was bound by its passes: the children ran all they held before the pass
in flight answered, so each pass claimed only what four pipes had room for (~60 runs, where
an async task's children, taking a hundred runs each, let a pass claim ~200), and the
worker paid a pass's two transactions and their commits per 60 runs. The buffer, unlike a
pipe, is reordered (below): a resumed run claimed later still goes ahead of what it holds.

Whether runs are short is the task's own time; how many a pipe holds is what a run takes
from the moment its child takes it up to the moment its end is read here (its own time,
the child's messages and its wait for a CPU). A no-op that takes 0.1 ms of its own takes
a few milliseconds each on a busy machine: sized by its own time, 32 of them (a tenth of
a second of work) sat in each pipe, and a resumed run claimed then waited behind them.

Runs that already started (resumed after a wait, retried, recovered) go first here too, as
they do in the claim (``engine/flow.py``): one claimed while fresh runs sit in the buffer
is put ahead of them, behind the started runs already there. A pipe cannot be reordered
once sent, so while started runs keep coming (a wave of due sleeps) one child, the
express child, holds only ``RESUMING_WINDOW`` of work and takes resumed runs first: a
resumed run waits behind a few milliseconds of fresh runs, not thirty. Shortening every
pipe instead halved what the worker got through during such a wave.

This module owns only the arithmetic and the hand-out; leases and heartbeats are
``heartbeats.py``'s, and handing runs back stays with the supervisor, which knows when the
database can be reached.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from outlast.machines import PRESETS
from outlast.worker import lease_clock
from outlast.worker.messages import Assignment, HookJob
from outlast.worker.pool import Child

#: claim ahead only while attempts take less than this on average (seconds)
PREFETCH_BELOW = 0.05
#: a child holds about this much known-short work in its pipe (seconds), at most PIPE_MAX runs
PIPE_WINDOW = 0.03
PIPE_MAX = 32
#: while runs that already started are being claimed (a wave of due sleeps), one child's
#: pipe (the express child's) holds only this much, and resumed runs go to it first: each
#: waits behind that much fresh work; the other children keep deep pipes
RESUMING_WINDOW = 0.005
#: seconds the shorter window holds after the last claim that brought a started run
RESUMING_FOR = 1.0

#: what a child needs to know of a run it attempts; every claim returns these columns
#: (``claimed_columns`` in ``store/queries.sql``)
_RUN_FIELDS = ("id", "task_id", "payload", "max_attempts", "tags", "metadata", "created_at",
               "queue", "machine", "replayed_from", "parent_id", "root_id", "idempotency_key",
               "max_duration", "execution_seconds", "traceparent")
#: and of a run whose final-state hooks it calls (a whole row: ``claim_hooks``)
_HOOK_FIELDS = (*_RUN_FIELDS, "attempt_count", "status", "error", "environment")
#: marks a buffered row that had started before its claim (never sent to a child)
_RESUMED = "_resumed"


class ClaimAhead:
    """The buffer of claimed runs no child holds yet, and what recent runs took."""

    def __init__(self, concurrency: int, environment: str, enforce_memory: bool,
                 clock: Callable[[], float] = time.monotonic, async_slots: int = 1,
                 wall: Callable[[], float] = time.time, lease_margin: float = 0.0) -> None:
        """``async_slots``: how many runs of async tasks a child runs at once (1: each
        alone, as a sync task's). ``wall``: the engine's clock, which dates a claimed
        run's ``lease_expires_at``; ``lease_margin``: kept in hand from it in the bound a
        child checks (``Assignment.held_until``)."""
        self.concurrency = concurrency
        self.async_slots = async_slots
        #: the tasks whose runs share a child (the children's ``Ready.async_tasks``)
        self.async_tasks: frozenset[str] = frozenset()
        #: whether the worker has tasks whose runs take a child each (a ``def`` task's)
        self.sync_tasks = True
        self.environment = environment
        self.enforce_memory = enforce_memory
        self.buffer: deque[dict[str, Any]] = deque()
        #: a child drew from the buffer since the last heartbeat (else the buffer is stale)
        self.fed = False
        self._avg_run: float | None = None
        self._task_avg: dict[str, float] = {}
        self._clock = clock
        self._wall = wall
        self.lease_margin = lease_margin
        #: until then (``clock``) pipes are kept short: started runs are being claimed
        self._resuming_until = 0.0

    def observe(self, task_id: str | None, executed: float, wall: float = 0.0) -> None:
        """An attempt ended after ``executed`` seconds of its own, ``wall`` seconds after
        its child took it up: update the averages (see the module docstring)."""
        self._avg_run = _ewma(self._avg_run, executed)
        if task_id is not None:
            self._task_avg[task_id] = _ewma(self._task_avg.get(task_id), max(executed, wall))

    def prefetching(self) -> bool:
        avg = self._avg_run
        return avg is not None and avg < PREFETCH_BELOW

    def resuming(self) -> bool:
        """Were started runs claimed within the last ``RESUMING_FOR`` seconds?"""
        return self._clock() < self._resuming_until

    def express(self, children: list[Child]) -> Child | None:
        """The child whose pipe is kept short for resumed runs while they come, if any."""
        if not self.resuming():
            return None
        return next((c for c in children if c.ready and not c.retire
                     and not isinstance(c.job, HookJob)), None)

    def depth(self, child: Child, express: bool = False) -> int:
        """Runs to hold in a child: one, or more queued behind a task known to be short."""
        job = child.job
        return self.depth_for(job.run["task_id"], express) if isinstance(job, Assignment) \
            else 1

    def depth_for(self, task_id: str, express: bool = False) -> int:
        if not self.prefetching():
            return 1
        avg = self._task_avg.get(task_id)
        if avg is None or avg >= PREFETCH_BELOW:
            return 1
        window = RESUMING_WINDOW if express and self.resuming() else PIPE_WINDOW
        return 1 + max(1, min(PIPE_MAX - 1, int(window / max(avg, 1e-6))))

    def shares(self, row: dict[str, Any]) -> bool:
        """Does this claimed run share a child with others (an async task's)?"""
        return self.async_slots > 1 and row["task_id"] in self.async_tasks

    def wanted(self, children: list[Child]) -> int:
        """How many runs to claim now to fill every child and the buffer (a child
        running shared runs has room for ``async_slots`` of them)."""
        express = self.express(children)
        depths = ((c, self.depth(c, c is express)) for c in children)
        room = sum(depth - c.load() for c, depth in depths if c.can_take(depth))
        room += sum(c.shared_room(self.async_slots) for c in children if c.shared)
        return max(0, room + self.buffer_room(children) - len(self.buffer))

    def buffer_room(self, children: list[Child]) -> int:
        """How many claimed runs to keep in the buffer beyond what the children hold: as
        many as their pipes queue behind their running runs, ``concurrency`` at least;
        none unless runs are short (see the module docstring)."""
        if not self.prefetching():
            return 0
        return max(self.concurrency, sum(self.depth(c) - 1 for c in children))

    def add(self, rows: list[dict[str, Any]], resumed: int = 0) -> None:
        """Buffer claimed ``rows``; the first ``resumed`` had started before their claim
        and go ahead of every fresh run buffered, in claim order."""
        if resumed:
            self._resuming_until = self._clock() + RESUMING_FOR
            front = sum(1 for row in self.buffer if row.get(_RESUMED))
            for i, row in enumerate(rows[:resumed]):
                self.buffer.insert(front + i, row | {_RESUMED: True})
        self.buffer.extend(rows[resumed:])

    def feed(self, children: list[Child]) -> None:
        """Hand buffered runs to children, least loaded first (a resumed run to the express
        child first, while it has room); one pipe message per child. A shared run goes
        to a child running shared runs or nothing; a run that finds no room keeps its
        place in the buffer."""
        self.place(children).send()

    def place(self, children: list[Child]) -> Placed:
        """``feed`` in two steps: the children hold their runs now (what is claimed next
        counts them), and ``send`` of the answer writes them to their pipes. Between
        the two the worker starts its next transaction, so it is in flight while the
        runs are pickled and written: that took the database's turn about a quarter of
        a drain's time."""
        placed = Placed(self)
        if not self.buffer:
            return placed
        hand_out = _HandOut(self, children)
        offset = self.clock_offset()
        kept: deque[dict[str, Any]] = deque()
        while self.buffer and hand_out.room():
            row = self.buffer.popleft()
            if not hand_out.place(row):
                kept.append(row)
        self.buffer.extendleft(reversed(kept))
        for child, rows in hand_out.batches.items():
            jobs = [self.job(row, offset) for row in rows]
            shared = jobs[0].shared
            if shared:
                child.hold_shared(jobs)
            started = not shared and child.hold_batch(jobs)
            placed.batches.append((child, jobs, rows, shared, started))
        return placed

    def take_all(self) -> list[Assignment]:
        """Empty the buffer, as jobs the supervisor hands back."""
        offset = self.clock_offset()
        jobs = [self.job(row, offset) for row in self.buffer]
        self.buffer.clear()
        return jobs

    def job(self, row: dict[str, Any], offset: float | None = None) -> Assignment:
        """The child's assignment for a claimed run row; ``offset``: ``clock_offset()``,
        read once for the rows handed out together."""
        preset = PRESETS.get(row["machine"])
        memory = preset.memory_bytes if preset and self.enforce_memory else None
        return Assignment(run_fields(row), row["lease_id"], row["attempt_count"], memory,
                          self.environment, row.get("journal"), self.shares(row),
                          self.held_until(row, offset))

    def clock_offset(self) -> float:
        """What turns a time of the engine's clock into a ``lease_clock.now`` time less the
        margin (the two clocks run alike, so one reading serves a whole hand-out)."""
        return lease_clock.now() - self._wall() - self.lease_margin

    def held_until(self, row: dict[str, Any], offset: float | None = None) -> float | None:
        """The run's lease expiry, dated by the engine's clock, as a ``lease_clock.now``
        time less the margin: what a child can compare without asking."""
        expires = row.get("lease_expires_at")
        if expires is None:
            return None
        return float(expires) + (self.clock_offset() if offset is None else offset)


class Placed:
    """Runs held by children and not yet sent (``ClaimAhead.place``)."""

    def __init__(self, ahead: ClaimAhead) -> None:
        self.ahead = ahead
        #: (child, its jobs, their rows, shared, whether the first started the child)
        self.batches: list[tuple[Child, list[Assignment], list[dict[str, Any]], bool,
                                 bool]] = []

    def send(self) -> None:
        """Write each child's runs to its pipe; a child that is gone holds them no longer
        and they go back to the front of the buffer."""
        batches, self.batches = self.batches, []
        for child, jobs, rows, shared, started in batches:
            if child.deliver(jobs, shared, started):
                self.ahead.fed = True
            else:
                self.ahead.buffer.extendleft(reversed(rows))


class _HandOut:
    """One ``feed``'s bookkeeping: the room each child has for sync runs (its pipe depth)
    and for shared runs, and the runs given to each. A child given runs of one kind
    takes none of the other in the same feed."""

    def __init__(self, ahead: ClaimAhead, children: list[Child]) -> None:
        self.ahead = ahead
        self.express = express = ahead.express(children)
        self.sync = {c: ahead.depth(c, c is express) for c in children
                     if c.can_take(ahead.depth(c, c is express))}
        self.shared = {c: n for c in children if (n := c.shared_room(ahead.async_slots))}
        #: children running no shared run; where the worker has sync tasks, shared runs
        #: leave one of them so (unless it is the only child)
        self.apart = {c for c in children if not c.shared}
        self.keep_apart = ahead.sync_tasks and len(children) > 1
        self.load = {c: c.load() for c in (*self.sync, *self.shared)}
        self.batches: dict[Child, list[dict[str, Any]]] = {}

    def room(self) -> bool:
        return bool(self.sync or self.shared)

    def _shared_room(self) -> dict[Child, int]:
        """The children a shared run may go to: spread over them (each child is a core's
        worth of work), but the last child apart stays free for sync runs."""
        if self.keep_apart and len(self.apart) <= 1:
            return {c: n for c, n in self.shared.items() if c not in self.apart}
        return self.shared

    def place(self, row: dict[str, Any]) -> bool:
        """Give ``row`` to a child with room for its kind; False when none has."""
        shared = self.ahead.shares(row)
        room = self._shared_room() if shared else self.sync
        if not room:
            return False
        express = self.express
        child = express if not shared and row.get(_RESUMED) and express in room else \
            min(room, key=self.load.__getitem__)
        if shared:
            self.apart.discard(child)
            room = self.shared
        (self.sync if shared else self.shared).pop(child, None)
        self.batches.setdefault(child, []).append(row)
        self.load[child] += 1
        if shared:
            room[child] -= 1
        elif self.load[child] == 1:  # an idle child's depth follows the run it starts with
            room[child] = self.ahead.depth_for(row["task_id"], child is express)
        if (room[child] <= 0) if shared else (self.load[child] >= room[child]):
            del room[child]
        return True


def run_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What a child needs to know of a run it attempts (a claimed row holds more: the
    lease, the claim order's columns)."""
    return {k: row.get(k) for k in _RUN_FIELDS}


def hook_fields(row: dict[str, Any]) -> dict[str, Any]:
    """What a child needs to know of a run whose final-state hooks it calls."""
    return {k: row.get(k) for k in _HOOK_FIELDS}


def _ewma(average: float | None, sample: float) -> float:
    return sample if average is None else 0.8 * average + 0.2 * sample
