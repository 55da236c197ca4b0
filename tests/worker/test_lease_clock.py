"""Until when a child may start what its lease covers (``outlast.worker.lease_clock``).

The supervisor publishes the bound after each heartbeat, a claimed run carries its own
from the claim, and a child reads the supervisor's through shared memory. Past both, an
attempt does not start and a durable operation that would run does not: the attempt is
handed back. A recorded operation still replays (nothing runs).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest

from outlast import step, task
from outlast.core.durable_requests import Op
from outlast.engine import Engine
from outlast.sdk.durable import DurableRun, HandBack
from outlast.sdk.registry import Registry
from outlast.worker import forkserver, lease_clock
from outlast.worker.claim_ahead import ClaimAhead
from outlast.worker.executor import run_attempt
from outlast.worker.heartbeats import Heartbeats
from outlast.worker.lease_clock import LeaseClock, margin
from outlast.worker.messages import Assignment
from tests.worker.support import claimed_runs


@pytest.fixture
def shared() -> Iterator[LeaseClock]:
    """A clock at 0, as this process's supervisor's (the way ``child.main`` sets it)."""
    clock = LeaseClock.create()
    assert clock is not None, "memfd_create is on every Linux the worker runs on"
    lease_clock.current = clock
    try:
        yield clock
    finally:
        lease_clock.current = None
        clock.close()


def _read_twice(conn: Connection, clock: LeaseClock) -> None:
    """In a child: what the bound is now, and after the parent extended it."""
    conn.send(clock.until())
    conn.recv()
    conn.send(clock.until())


def test_a_child_reads_what_its_supervisor_writes(shared: LeaseClock) -> None:
    shared.extend(1234.5)
    near, far = forkserver.CONTEXT.Pipe()
    child = forkserver.CONTEXT.Process(target=_read_twice, args=(far, shared))
    child.start()
    try:
        assert near.poll(30)
        assert near.recv() == 1234.5
        shared.extend(5678.25)
        near.send("again")
        assert near.poll(30)
        assert near.recv() == 5678.25
    finally:
        child.join(10)
    assert child.exitcode == 0


def test_the_bound_never_moves_back(shared: LeaseClock) -> None:
    shared.extend(100.0)
    shared.extend(50.0)  # a heartbeat from the lease keeper's thread that started earlier
    assert shared.until() == 100.0


def _job(held_until: float | None) -> Assignment:
    run = {"id": "run_1", "task_id": "t", "payload": "null", "tags": "[]",
           "created_at": 0.0, "metadata": "{}", "max_attempts": 3, "queue": "t",
           "machine": "small-1x"}
    return Assignment(run, "lease_1", 1, None, "dev", journal=[], held_until=held_until)


def _recording_task() -> tuple[Registry, list[str]]:
    reg, ran = Registry(), []

    @task(id="t", registry=reg)
    def body(payload: Any) -> int:
        ran.append("body")
        return 1

    return reg, ran


def test_an_attempt_does_not_start_once_its_lease_lapsed(shared: LeaseClock) -> None:
    """A run that waited in the pipe while its supervisor could not heartbeat."""
    reg, ran = _recording_task()
    done = run_attempt(reg.get("t"), _job(lease_clock.now() - 0.1), lambda m: None,
                       lambda r: None)
    assert done.kind == "platform_error"
    assert "could not renew" in done.error["message"]
    assert ran == []


def test_a_heartbeat_after_the_claim_extends_the_bound(shared: LeaseClock) -> None:
    reg, ran = _recording_task()
    shared.extend(lease_clock.now() + 30)
    done = run_attempt(reg.get("t"), _job(lease_clock.now() - 0.1), lambda m: None,
                       lambda r: None)
    assert (done.kind, done.output, ran) == ("completed", 1, ["body"])


def test_without_a_supervisors_clock_nothing_is_checked() -> None:
    reg, ran = _recording_task()
    done = run_attempt(reg.get("t"), _job(lease_clock.now() - 100), lambda m: None,
                       lambda r: None)
    assert done.kind == "completed"


def _durable(held: Callable[[], bool]) -> DurableRun:
    journal = [{"seq": 0, "kind": "step", "name": "one", "status": "completed",
                "result": 1}]
    return DurableRun("run_1", "lease_1", 1, "dev", lambda r: None, journal=journal,
                      lease=held)


def test_past_the_bound_a_recorded_step_replays_and_a_new_one_hands_back() -> None:
    durable, ran = _durable(lambda: False), []

    def fresh(at: Op) -> Any:
        ran.append(at.name)
        return 2

    assert durable.call("step", "one", fresh) == 1
    with pytest.raises(HandBack, match="'two' was not started"):
        durable.call("step", "two", fresh)
    assert ran == []


def test_past_the_bound_an_awaited_step_hands_back() -> None:
    durable, ran = _durable(lambda: False), []

    async def fresh(at: Op) -> Any:
        ran.append(at.name)
        return 2

    async def steps() -> None:
        assert await durable.acall("step", "one", fresh) == 1
        with pytest.raises(HandBack):
            await durable.acall("step", "two", fresh)

    asyncio.run(steps())
    assert ran == []


def test_a_step_past_the_bound_ends_the_attempt_handed_back(shared: LeaseClock) -> None:
    reg = Registry()
    bound = lease_clock.now() + 0.3

    @task(id="t", registry=reg)
    def two(payload: Any) -> int:
        first = step.run("one", lambda: 1)
        time.sleep(max(0.0, bound - lease_clock.now()) + 0.05)
        return first + step.run("two", lambda: 1)

    done = run_attempt(reg.get("t"), _job(bound), lambda m: None,
                       lambda r: {"result": r.result})  # step one's record, written
    assert done.kind == "platform_error"
    assert "step 'two' was not started" in done.error["message"]


def test_a_claimed_run_carries_its_leases_expiry_as_a_bound(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    [row] = claimed_runs(engine, register, trigger, 1)
    lease = engine.lease_seconds
    ahead = ClaimAhead(1, "dev", False, wall=engine.clock.now, lease_margin=margin(lease))
    left = row["lease_expires_at"] - engine.clock.now()  # the fake clock stands still
    expected = lease_clock.now() + left - margin(lease)
    held_until = ahead.job(row).held_until
    assert held_until is not None and abs(held_until - expected) < 0.5


def test_a_heartbeat_publishes_the_bound(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        shared: LeaseClock) -> None:
    [row] = claimed_runs(engine, register, trigger, 1)
    beats = Heartbeats(engine, "worker-1", lambda jobs, why: None, shared)
    before = lease_clock.now()
    assert beats.beat([row["id"]]) == {row["id"]: row["lease_id"]}
    lease = engine.lease_seconds
    assert before + lease - margin(lease) <= shared.until() \
        <= lease_clock.now() + lease - margin(lease)
