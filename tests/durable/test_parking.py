"""A run whose code changed under it parks instead of failing, on both stores.

Each test runs attempts the way a worker does (claim, ``run_attempt`` in this process,
record), with the engine of the test's store: version 1 of a task records its journal,
then version 2, which renamed a step, replays it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast import Retry, step, task, wait
from outlast.clock import FakeClock
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.engine import versions as registry
from outlast.errors import (
    InvalidTransitionError,
    RunNotFoundError,
    UnknownVersionError,
    ValidationError,
)
from outlast.sdk.registry import Registry
from outlast.sdk.task import Task
from outlast.worker import runtime
from outlast.worker.executor import run_attempt
from outlast.worker.messages import Assignment
from outlast.worker.outcomes import log_rows

ENV = "dev"
effects: list[str] = []
hooks: list[str] = []

v1, v2, swallows = Registry(), Registry(), Registry()


def _on_failure(payload: Any, error: Any) -> None:
    hooks.append("on_failure")


def _charge() -> str:
    effects.append("charge")
    return "ch_1"


def _ship() -> str:
    effects.append("ship")
    return "shipped"


@task(id="order", registry=v1, retry=Retry(max_attempts=1), on_failure=_on_failure)
def order_v1(payload: Any) -> str:
    charge = step.run("charge", _charge)
    wait.sleep(minutes=5)
    return f"{charge} {step.run('ship', _ship)}"


@task(id="order", registry=v2, retry=Retry(max_attempts=1), on_failure=_on_failure)
def order_v2(payload: Any) -> str:
    charge = step.run("charge-card", _charge)  # renamed since the run started
    wait.sleep(minutes=5)
    return f"{charge} {step.run('ship', _ship)}"


@task(id="order", registry=swallows, retry=Retry(max_attempts=1), on_failure=_on_failure)
def order_swallowing(payload: Any) -> str:
    try:
        step.run("charge-card", _charge)
    except Exception:  # noqa: BLE001 - the point: task code swallows the mismatch
        effects.append("swallowed")
    try:
        step.run("ship", _ship)  # nothing runs past a mismatch
    except Exception:  # noqa: BLE001
        effects.append("swallowed")
    return "pretends all is well"


@pytest.fixture(autouse=True)
def _reset() -> None:
    effects.clear()
    hooks.clear()


#: versions runs are moved to in these tests, each registered with task "order"
VERSIONS = ("2026.12.04+1", "v2", "v3", "v4")


@pytest.fixture
def order(engine: Engine) -> Callable[[], str]:
    engine.register_tasks(ENV, [order_v1.definition()])
    with engine.store.transaction() as tx:
        for version in VERSIONS:
            registry.register(tx, ENV, version, [order_v1.definition()], source="deploy",
                              now=engine.clock.now(), promote=False)

    def trigger() -> str:
        return str(engine.trigger(ENV, _new_run(engine)).row["id"])

    return trigger


def _new_run(engine: Engine, task_id: str = "order") -> NewRun:
    return NewRun(task_id, "{}", parse_options({}, engine.clock.now()))


def attempt(engine: Engine, code: Task[..., Any]) -> str | None:
    """Claim the next runnable run and run one attempt of it with ``code``; its kind."""
    engine.sweep()
    claimed = engine.claim(ENV, "worker-1", None, 1)
    if not claimed:
        return None
    row = claimed[0]
    job = Assignment(run=dict(row), lease_id=row["lease_id"], attempt=row["attempt_count"],
                     memory_limit=None, environment=ENV)
    done = run_attempt(code, job, lambda batch: engine.append_logs(log_rows(batch)),
                       lambda request: runtime.dispatch(engine, ENV, request))
    engine.record([Outcome(done.run_id, done.lease_id, done.attempt, done.kind,  # type: ignore[arg-type]
                           done.executed, done.output, done.error, done.retry_override,
                           done.hooks_done)])
    return done.kind


def started_on_v1(engine: Engine, clock: FakeClock, order: Callable[[], str]) -> str:
    """A run whose first attempt charged and slept; its sleep is over."""
    run_id = order()
    assert attempt(engine, order_v1) == "suspended"
    clock.advance(301)
    return run_id


def run(engine: Engine, run_id: str) -> dict[str, Any]:
    return engine.retrieve(ENV, run_id)


def event_kinds(engine: Engine, run_id: str) -> list[str]:
    return [e["kind"] for e in engine.events(run_id)]


def alerts_for(engine: Engine, run_id: str) -> list[Any]:
    """What the failure alerts would see of the run (``upkeep.alerting`` reads these)."""
    with engine.store.transaction(write=False) as tx:
        rows = tx.all("failure_events", after=0, upto=10**12)
    return [r for r in rows if r["run_id"] == run_id]


def test_a_renamed_step_parks_the_run_without_spending_an_attempt(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    assert attempt(engine, order_v2) == "parked"
    parked = run(engine, run_id)
    assert parked["status"] == "PARKED" and not parked["is_final"]
    # the attempt that ran counts (it goes on when resumed) but spends no retry
    assert parked["attempts"] == 1
    with engine.store.transaction(write=False) as tx:
        assert tx.one("get_run", id=run_id, environment=ENV)["attempt_count"] == 0, \
            "the parked attempt was charged"
    assert parked["error"] is None
    info = parked["parked"]
    assert (info["seq"], info["recorded"], info["called"]) == (
        0, {"kind": "step", "name": "charge"}, {"kind": "step", "name": "charge-card"})
    assert (info["attempt"], info["version"], info["at"]) == (1, None, clock.now())
    assert f"outlast runs resume {run_id}" in info["message"]
    assert f"outlast runs move {run_id} --version V" in info["message"]
    assert "'charge'" in info["message"] and "'charge-card'" in info["message"]
    park = engine.events(run_id)[-1]
    assert (park["kind"], park["status"], park["data"]) == ("park", "PARKED", info)
    assert hooks == [] and alerts_for(engine, run_id) == []
    logs = engine.logs(run_id)
    assert any(line["level"] == "WARNING" and "parked" in line["message"] for line in logs), logs
    assert attempt(engine, order_v2) is None, "a parked run was claimed again"
    assert effects == ["charge"]


def test_resume_on_matching_code_finishes_without_running_recorded_steps(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    assert attempt(engine, order_v2) == "parked"
    assert attempt(engine, order_v2) is None
    resumed = engine.parking.resume(ENV, run_id)
    assert (resumed["status"], resumed["parked"]) == ("QUEUED", None)
    assert attempt(engine, order_v1) == "completed"
    done = run(engine, run_id)
    assert (done["status"], done["output"], done["attempts"]) == ("COMPLETED", "ch_1 shipped", 1)
    assert effects == ["charge", "ship"], "a recorded step ran again"
    assert event_kinds(engine, run_id)[-4:] == ["park", "resume_parked", "start_attempt",
                                                "complete"]


def test_parking_again_and_again_never_spends_the_retries(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    for _ in range(3):
        assert attempt(engine, order_v2) == "parked"
        engine.parking.resume(ENV, run_id)
    assert attempt(engine, order_v1) == "completed"
    assert run(engine, run_id)["status"] == "COMPLETED"


def test_swallowing_the_mismatch_still_parks_and_runs_nothing_after_it(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    assert attempt(engine, order_swallowing) == "parked"
    parked = run(engine, run_id)
    assert (parked["status"], parked["output"]) == ("PARKED", None)
    assert effects == ["charge", "swallowed", "swallowed"], "a step ran past the mismatch"
    assert [e["seq"] for e in engine.durable.run_journal(run_id)] == [0, 1]


def test_move_pins_the_version_and_queues_a_parked_run(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    assert attempt(engine, order_v2) == "parked"
    moved = engine.parking.move(ENV, run_id, "2026.12.04+1")
    assert (moved["status"], moved["version"], moved["parked"]) == (
        "QUEUED", "2026.12.04+1", None)
    move = engine.events(run_id)[-1]
    assert (move["kind"], move["data"]) == (
        "move_version", {"version": "2026.12.04+1", "previous": None})
    assert attempt(engine, order_v1) == "completed"
    assert run(engine, run_id)["version"] == "2026.12.04+1"


def test_move_a_queued_run_keeps_it_queued(engine: Engine, order: Callable[[], str]) -> None:
    queued = order()
    moved = engine.parking.move(ENV, queued, "v2")
    assert (moved["status"], moved["version"]) == ("QUEUED", "v2")
    engine.parking.move(ENV, queued, "v3")
    events = engine.events(queued)[-2:]
    assert [(e["kind"], e["status"], e["data"]) for e in events] == [
        ("move_version", "QUEUED", {"version": "v2", "previous": None}),
        ("move_version", "QUEUED", {"version": "v3", "previous": "v2"})]


def test_resume_with_a_version_moves_the_run(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    run_id = started_on_v1(engine, clock, order)
    assert attempt(engine, order_v2) == "parked"
    resumed = engine.parking.resume(ENV, run_id, version="v4")
    assert (resumed["status"], resumed["version"], resumed["parked"]) == ("QUEUED", "v4", None)
    resume = engine.events(run_id)[-1]
    assert (resume["kind"], resume["data"]) == ("resume_parked", {"version": "v4"})


def test_ways_out_refuse_what_they_cannot_do(
        engine: Engine, clock: FakeClock, order: Callable[[], str]) -> None:
    queued = order()
    with pytest.raises(RunNotFoundError):
        engine.parking.resume(ENV, "run_unknown")
    with pytest.raises(RunNotFoundError):
        engine.parking.move("prod", queued, "v2")
    with pytest.raises(InvalidTransitionError, match="not PARKED"):
        engine.parking.resume(ENV, queued)
    for bad in ("", "has space", "x" * 101, "v/2", None, 3):
        with pytest.raises(ValidationError, match="version"):
            engine.parking.move(ENV, queued, bad)
    with pytest.raises(ValidationError, match="version"):
        engine.parking.resume(ENV, queued, version="")
    with pytest.raises(UnknownVersionError, match="not registered"):
        engine.parking.move(ENV, queued, "v9")  # its run would wait for nobody
    with engine.store.transaction() as tx:
        registry.register(tx, ENV, "other", [], source="deploy", now=clock.now(),
                          promote=False)
    with pytest.raises(UnknownVersionError, match="has no task 'order'"):
        engine.parking.move(ENV, queued, "other")
    claimed = engine.claim(ENV, "worker-1", None, 1)
    assert [r["id"] for r in claimed] == [queued]
    with pytest.raises(InvalidTransitionError, match="EXECUTING"):
        engine.parking.move(ENV, queued, "v2")
    engine.cancel(ENV, queued)
    with pytest.raises(InvalidTransitionError, match="already CANCELED"):
        engine.parking.move(ENV, queued, "v2")
    assert run(engine, queued)["version"] is None


def test_cancel_a_parked_run_and_its_waiting_children(
        engine: Engine, clock: FakeClock) -> None:
    engine.register_tasks(ENV, [parent_v1.definition(), child.definition()])
    run_id = str(engine.trigger(ENV, _new_run(engine, "parent")).row["id"])
    assert attempt(engine, parent_v1) == "suspended"
    clock.advance(61)
    assert attempt(engine, parent_v2) == "parked"
    children, _ = engine.list_runs(ENV, parent_id=run_id)
    assert [c["status"] for c in children] == ["QUEUED"]
    canceled = engine.cancel(ENV, run_id)
    assert canceled["status"] == "CANCELED"
    assert run(engine, children[0]["id"])["status"] == "CANCELED"


family_v1, family_v2 = Registry(), Registry()


@task(id="child", registry=family_v1)
def child(payload: Any) -> None:
    return None


@task(id="parent", registry=family_v1)
def parent_v1(payload: Any) -> None:
    child.trigger({})
    wait.sleep(minutes=1)


@task(id="parent", registry=family_v2)
def parent_v2(payload: Any) -> None:
    step.run("new-first-step", lambda: None)
    wait.sleep(minutes=1)
