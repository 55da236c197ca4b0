"""The supervisor's lease keeper: what a heartbeat's answer means for the runs it holds."""

from __future__ import annotations

from typing import Any, cast

import pytest

from outlast.engine import Engine
from outlast.worker.claim_ahead import ClaimAhead
from outlast.worker.heartbeats import (
    MAX_INTERVAL,
    Heartbeats,
    LeaseCheck,
    check_child,
    held_ids,
    interval_for,
    lost_rows,
)
from outlast.worker.messages import Assignment
from outlast.worker.pool import Child


def job(run_id: str, lease: str = "l1") -> Assignment:
    return Assignment(run={"id": run_id, "task_id": "t"}, lease_id=lease, attempt=1,
                      memory_limit=None, environment="dev")


def row(run_id: str, lease: str = "l1") -> dict[str, Any]:
    return {"id": run_id, "task_id": "t", "machine": None, "attempt_count": 1,
            "lease_id": lease}


@pytest.mark.parametrize(("lease_seconds", "interval"), [
    (3.0, 1.0),            # a third of the lease: two heartbeats may fail before it lapses
    (6.0, MAX_INTERVAL),
    (300.0, MAX_INTERVAL),  # a long lease still notices a cancel within two seconds
    (0.3, 0.1),
])
def test_the_heartbeat_interval_is_a_third_of_the_lease_at_most_two_seconds(
        lease_seconds: float, interval: float) -> None:
    assert interval_for(lease_seconds) == pytest.approx(interval)


@pytest.mark.parametrize(("held", "lost"), [
    ({"a": "l1", "b": "l1"}, []),
    ({"a": "l1"}, ["b"]),                   # b's lease is gone (canceled or recovered)
    ({"a": "l1", "b": "other"}, ["b"]),     # b was taken over under another lease
    ({}, ["a", "b"]),
])
def test_buffered_rows_whose_lease_is_gone_are_lost(held: dict[str, str],
                                                    lost: list[str]) -> None:
    assert [r["id"] for r in lost_rows([row("a"), row("b")], held)] == lost


RUNNING, QUEUED_1, QUEUED_2 = job("r"), job("q1"), job("q2")
ALL = {"r": "l1", "q1": "l1", "q2": "l1"}


@pytest.mark.parametrize(("jobs", "running", "held", "check"), [
    ([RUNNING, QUEUED_1, QUEUED_2], RUNNING, ALL, LeaseCheck()),
    # the running attempt lost: stop the child, its queue goes back when it dies
    ([RUNNING, QUEUED_1], RUNNING, {"q1": "l1"}, LeaseCheck(stop="r")),
    ([RUNNING, QUEUED_1], RUNNING, {}, LeaseCheck(stop="r")),
    ([RUNNING, QUEUED_1, QUEUED_2], RUNNING, {"r": "l1"}, LeaseCheck(revoked=("q1", "q2"))),
    ([RUNNING, QUEUED_1, QUEUED_2], RUNNING, {"r": "l1", "q1": "l1", "q2": "x"},
     LeaseCheck(revoked=("q2",))),
    # a hook job is running (not a run's attempt): only the queue can be lost
    ([QUEUED_1], object(), {}, LeaseCheck(revoked=("q1",))),
    ([], None, {}, LeaseCheck()),
])
def test_what_a_heartbeat_means_for_a_childs_runs(jobs: list[Assignment], running: object,
                                                  held: dict[str, str],
                                                  check: LeaseCheck) -> None:
    assert check_child(jobs, running, held) == check


class StubChild:
    """As much of ``pool.Child`` as the lease keeper uses."""

    def __init__(self, *jobs: Assignment, killed_for: str | None = None) -> None:
        self.job: Assignment | None = jobs[0] if jobs else None
        self.queued = list(jobs[1:])
        self.killed_for = killed_for
        self.shared: dict[str, Assignment] = {}
        self.stopped: list[tuple[str, str]] = []

    def held(self) -> list[Assignment]:
        return self.held_alone() + list(self.shared.values())

    def held_alone(self) -> list[Assignment]:
        return ([self.job] if self.job else []) + self.queued

    def stop_shared(self, run_id: str, why: str, grace: float) -> None:
        self.stopped.append((run_id, why))

    def kill(self, reason: str) -> None:
        self.killed_for = reason


class StubEngine:
    lease_seconds = 30.0

    def __init__(self, held: dict[str, str]) -> None:
        self.held = held
        self.asked: list[str] = []

    def heartbeat(self, worker_id: str, run_ids: list[str]) -> dict[str, str]:
        self.asked = run_ids
        return {i: lease for i, lease in self.held.items() if i in run_ids}


def children(*stubs: StubChild) -> list[Child]:
    return [cast(Child, s) for s in stubs]


def test_held_ids_leave_out_a_child_being_killed() -> None:
    ahead = ClaimAhead(2, "dev", enforce_memory=False)
    ahead.add([row("b1")])
    kids = children(StubChild(job("r1"), job("q1")), StubChild(job("r2"), killed_for="stop"))
    assert held_ids(ahead, kids) == {"b1", "r1", "q1"}


def test_a_heartbeat_drops_lost_buffered_runs_stops_lost_attempts_and_revokes_queued_ones(
        ) -> None:
    engine = StubEngine({"b1": "l1", "r1": "l1", "r2": "l1"})
    released: list[tuple[list[Assignment], str]] = []
    beats = Heartbeats(cast(Engine, engine), "w1", lambda jobs, why: released.append((jobs, why)))
    ahead = ClaimAhead(2, "dev", enforce_memory=False)
    ahead.add([row("b1"), row("b2")])
    ahead.fed = True  # a child drew from the buffer since the last heartbeat: keep it
    lost_running, lost_queued = StubChild(job("r0"), job("q0")), StubChild(job("r1"), job("q1"))
    kept = StubChild(job("r2"))
    beats.maybe_beat(ahead, children(lost_running, lost_queued, kept))
    assert engine.asked == ["b1", "b2", "q0", "q1", "r0", "r1", "r2"]
    assert [r["id"] for r in ahead.buffer] == ["b1"]
    assert (lost_running.killed_for, lost_queued.killed_for, kept.killed_for) == \
        ("cancel", None, None)
    assert beats.revoked == {"q1"} and released == [] and not ahead.fed
    lost_queued.job, lost_queued.queued = lost_queued.queued[0], []
    beats.kill_if_revoked(cast(Child, lost_queued))  # q1 started: it is stopped at once
    assert lost_queued.killed_for == "cancel" and beats.revoked == set()


def test_a_shared_run_that_lost_its_lease_is_cancelled_and_its_child_kept() -> None:
    """The runs beside it share its process: it is cancelled in the child, not killed."""
    engine = StubEngine({"s1": "l1"})
    beats = Heartbeats(cast(Engine, engine), "w1", lambda jobs, why: None)
    sharing = StubChild()
    sharing.shared = {"s1": job("s1"), "s2": job("s2")}
    beats.maybe_beat(ClaimAhead(2, "dev", enforce_memory=False), children(sharing))
    assert engine.asked == ["s1", "s2"]
    assert sharing.stopped == [("s2", "cancel")] and sharing.killed_for is None


def test_a_buffer_no_child_drew_from_between_two_heartbeats_is_handed_back() -> None:
    engine = StubEngine({})
    released: list[tuple[list[str], str]] = []
    beats = Heartbeats(cast(Engine, engine), "w1", lambda jobs, why: released.append(
        ([j.run["id"] for j in jobs], why)))
    ahead = ClaimAhead(2, "dev", enforce_memory=False)
    ahead.add([row("b1"), row("b2")])
    beats.maybe_beat(ahead, [])
    assert released == [(["b1", "b2"], "no free process to start it")]
    assert engine.asked == [] and not ahead.buffer


def test_a_heartbeat_waits_its_interval_unless_asked_to_check_now() -> None:
    engine = StubEngine({})
    beats = Heartbeats(cast(Engine, engine), "w1", lambda jobs, why: None)
    ahead = ClaimAhead(2, "dev", enforce_memory=False)
    ahead.add([row("b1")])
    ahead.fed = True
    beats.maybe_beat(ahead, [])
    assert engine.asked == ["b1"] and beats.next_due() == beats.last + beats.interval
    engine.asked = []
    ahead.add([row("b2")])
    ahead.fed = True
    beats.maybe_beat(ahead, [])
    assert engine.asked == []  # within the interval: no heartbeat
    beats.check_now()
    beats.maybe_beat(ahead, [])
    assert engine.asked == ["b2"]  # b1 was dropped: the first answer did not hold it
