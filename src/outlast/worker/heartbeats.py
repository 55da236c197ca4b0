"""Heartbeats: keeping the leases of the runs a worker holds, and letting go of lost ones.

An attempt owns its run through a lease that lapses unless renewed; a worker that stops
renewing loses its runs to the sweeper, which is how a vanished worker's runs come back.
The supervisor's loop renews them every ``interval`` (a third of the lease, at most two
seconds), never a child, so task code cannot starve the heartbeat.

A heartbeat's answer is the set of leases still held. One missing was taken over: the run
was canceled, or recovered after this worker looked gone. The attempt running it is
stopped; a run queued in a child's pipe is marked ``revoked`` and killed the moment it
starts (the pipe cannot be taken back); a claimed-ahead run no child drew is dropped.
The same pass hands back the buffer if no child drew from it since the previous one:
those runs would otherwise hold their leases while another worker idles.

The decisions are pure functions (``lost_rows``, ``check_child``); ``Heartbeats`` keeps
the timer and the revoked runs and applies them, inside the supervisor's one loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from outlast.engine import Engine
from outlast.worker import lease_clock
from outlast.worker.claim_ahead import ClaimAhead
from outlast.worker.lease_clock import LeaseClock, margin
from outlast.worker.messages import Assignment
from outlast.worker.pool import STOP_GRACE, Child

log = logging.getLogger("outlast.worker")

#: the longest gap between two heartbeats (seconds), whatever the lease
MAX_INTERVAL = 2.0

#: hands claimed-but-unstarted runs back, with why (the supervisor's ``_release``)
Release = Callable[[list[Assignment], str], None]


@dataclass(frozen=True)
class LeaseCheck:
    """What a heartbeat's answer means for the runs one child holds."""

    #: the running attempt that lost its lease: stop the child (its queued runs go back
    #: when it dies)
    stop: str | None = None
    #: queued runs that lost theirs: kill the child when one of them starts
    revoked: tuple[str, ...] = ()


def interval_for(lease_seconds: float) -> float:
    """A third of the lease, so two heartbeats may fail before it lapses; at most
    ``MAX_INTERVAL``, so a cancel's lost lease is noticed soon even under a long lease."""
    return min(lease_seconds / 3, MAX_INTERVAL)


def lost_rows(rows: Iterable[dict[str, Any]], held: dict[str, str]) -> list[dict[str, Any]]:
    """The claimed rows whose lease the heartbeat no longer found ours."""
    return [r for r in rows if held.get(r["id"]) != r["lease_id"]]


def lost_jobs(jobs: Iterable[Assignment], held: dict[str, str]) -> list[Assignment]:
    """The attempts among ``jobs`` whose lease the heartbeat no longer found ours."""
    return [job for job in jobs if held.get(job.run["id"]) != job.lease_id]


def check_child(jobs: list[Assignment], running: object, held: dict[str, str]) -> LeaseCheck:
    """``jobs`` are a child's runs, ``running`` first when it is one of them. The running
    attempt lost: stop it, nothing more (its queue goes back on its death); else the
    queued runs that lost their lease are revoked."""
    revoked: list[str] = []
    for job in jobs:
        if held.get(job.run["id"]) == job.lease_id:
            continue
        if job is running:
            return LeaseCheck(stop=job.run["id"])
        revoked.append(job.run["id"])
    return LeaseCheck(revoked=tuple(revoked))


def held_ids(ahead: ClaimAhead, children: Iterable[Child]) -> set[str]:
    """The runs this worker holds a lease on: buffered, running or queued in a pipe (a
    child being killed is no longer heartbeated: its runs go back when it dies)."""
    ids = {r["id"] for r in ahead.buffer}
    for c in children:
        if c.killed_for is None:
            ids.update(job.run["id"] for job in c.held())
    return ids


class Heartbeats:
    """The supervisor's lease keeper: when to heartbeat, and what to do with the answer."""

    def __init__(self, engine: Engine, worker_id: str, release: Release,
                 leases: LeaseClock | None = None) -> None:
        """``leases``: where the bound a child checks is published (``lease_clock.py``)."""
        self.engine = engine
        self.worker_id = worker_id
        self._release = release
        self.leases = leases
        self.interval = interval_for(engine.lease_seconds)
        #: monotonic time of the last heartbeat (0: one is due now)
        self.last = 0.0
        #: runs that lost their lease while queued in a child's pipe
        self.revoked: set[str] = set()

    def next_due(self) -> float:
        return self.last + self.interval

    def check_now(self) -> None:
        """Heartbeat at the next pass: a cancel or lost wake-ups may have taken a lease."""
        self.last = 0.0

    def maybe_beat(self, ahead: ClaimAhead, children: list[Child]) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        if ahead.buffer and not ahead.fed:
            self._release(ahead.take_all(), "no free process to start it")
        ahead.fed = False
        held = self.beat(sorted(held_ids(ahead, children)))
        for row in lost_rows(ahead.buffer, held):
            log.info("run %s is no longer ours (canceled or recovered); dropping it", row["id"])
            ahead.buffer.remove(row)
        for c in children:
            if c.killed_for is None:
                self._apply(c, check_child(c.held_alone(), c.job, held))
                self._stop_lost_shared(c, held)

    def beat(self, run_ids: list[str]) -> dict[str, str]:
        """Renew the leases of ``run_ids`` (every run the worker holds); {run id: lease id}
        of those still held. Once renewed, the children are told until when they surely
        hold them: from before the heartbeat was sent, so the bound is never later than
        the expiry the database now has."""
        sent = lease_clock.now()
        held = self.engine.heartbeat(self.worker_id, run_ids)
        if self.leases is not None:
            lease = self.engine.lease_seconds
            self.leases.extend(sent + lease - margin(lease))
        return held

    @staticmethod
    def _stop_lost_shared(child: Child, held: dict[str, str]) -> None:
        """A shared run that lost its lease is cancelled in its child; the runs beside
        it go on (killing the child would end them too)."""
        for job in lost_jobs(child.shared.values(), held):
            log.info("run %s is no longer ours (canceled or recovered); stopping it",
                     job.run["id"])
            child.stop_shared(job.run["id"], "cancel", STOP_GRACE)

    def _apply(self, child: Child, check: LeaseCheck) -> None:
        for run_id in filter(None, (check.stop, *check.revoked)):
            log.info("run %s is no longer ours (canceled or recovered); stopping it", run_id)
        if check.stop is not None:
            child.kill("cancel")
        self.revoked.update(check.revoked)

    def kill_if_revoked(self, child: Child) -> None:
        """The child moved on to its next queued run: kill it if that run was revoked (it
        was canceled while it waited in the pipe). Asked at every run's end: with none
        revoked (nearly always), nothing to look at."""
        if not self.revoked:
            return
        head = child.job
        if isinstance(head, Assignment) and head.run["id"] in self.revoked:
            self.revoked.discard(head.run["id"])
            child.kill("cancel")
