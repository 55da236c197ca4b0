"""Every transition, tried on a run in every status, changes it exactly when the status
table (``statuses.TRANSITIONS``) allows it, on both stores: the guards of the queries do
what the table says, those passed as parameters included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.engine import Engine, transitions
from outlast.engine.statuses import TRANSITIONS, RunStatus
from outlast.errors import InvalidTransitionError
from outlast.store.protocol import Row, Tx

from .support import status_of

ENV = "dev"
S = RunStatus

Attempt = Callable[[Tx, Row, float], bool]


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, "job")


def _lease(now: float) -> transitions.Lease:
    return transitions.Lease("lease_table", "worker-table", now + 30)


def _refused(change: Callable[[], object]) -> bool:
    try:
        change()
    except InvalidTransitionError:
        return False
    return True


def _start(tx: Tx, row: Row, now: float) -> bool:
    started = transitions.start_runs(tx, _lease(now), [row["id"]], now)
    transitions.log_starts(tx, _lease(now), started, logged=False, now=now)
    return bool(started)


def _finish(transition: str) -> Attempt:
    def attempt(tx: Tx, row: Row, now: float) -> bool:
        return _refused(lambda: transitions.finish(
            tx, run_id=row["id"], lease_id=row["lease_id"] or "none",
            attempt=row["attempt_count"], transition=transition, now=now, executed=0.0))
    return attempt


def _requeue(transition: str) -> Attempt:
    def attempt(tx: Tx, row: Row, now: float) -> bool:
        return _refused(lambda: transitions.requeue(
            tx, run_id=row["id"], lease_id=row["lease_id"] or "none",
            attempt=row["attempt_count"], transition=transition, now=now, available_at=now,
            executed=0.0, machine="small-1x", give_back_attempt=transition == "release"))
    return attempt


def _end(transition: str) -> Attempt:
    return lambda tx, row, now: _refused(lambda: transitions.end_inactive(
        tx, run_id=row["id"], transition=transition, now=now))


def _suspend(tx: Tx, row: Row, now: float) -> bool:
    return _refused(lambda: transitions.suspend(
        tx, run_id=row["id"], lease_id=row["lease_id"] or "none",
        attempt=row["attempt_count"], now=now, executed=0.0))


def _park(tx: Tx, row: Row, now: float) -> bool:
    return _refused(lambda: transitions.park(
        tx, run_id=row["id"], lease_id=row["lease_id"] or "none",
        attempt=row["attempt_count"], now=now, executed=0.0,
        parked={"seq": 0, "message": "mismatch"}))


def _unpark(tx: Tx, row: Row, now: float) -> bool:
    return _refused(lambda: transitions.unpark(tx, run_id=row["id"], now=now, version=None,
                                               event="resume_parked"))


def _reschedule(tx: Tx, row: Row, now: float) -> bool:
    return _refused(lambda: transitions.reschedule(
        tx, run_id=row["id"], environment=ENV, available_at=now + 60, now=now))


ATTEMPTS: dict[str, Attempt] = {
    "enqueue_delayed": lambda tx, row, now: transitions.enqueue_delayed(tx, row["id"], now),
    "start_attempt": _start,
    "complete": _finish("complete"),
    "retry": _requeue("retry"),
    "fail": _finish("fail"),
    "crash": _finish("crash"),
    "time_out": _finish("time_out"),
    "system_failure": _finish("system_failure"),
    "release": _requeue("release"),
    "suspend": _suspend,
    "resume": lambda tx, row, now: transitions.resume(tx, run_id=row["id"], now=now),
    "park": _park,
    "unpark": _unpark,
    "cancel": _end("cancel"),
    "expire": _end("expire"),
    "reschedule": _reschedule,
}

#: how a run gets to each status, from QUEUED (DELAYED is triggered so)
PATHS: dict[RunStatus, list[str]] = {
    S.QUEUED: [],
    S.EXECUTING: ["start_attempt"],
    S.WAITING: ["start_attempt", "suspend"],
    S.PARKED: ["start_attempt", "park"],
    S.COMPLETED: ["start_attempt", "complete"],
    S.FAILED: ["start_attempt", "fail"],
    S.CRASHED: ["start_attempt", "crash"],
    S.TIMED_OUT: ["start_attempt", "time_out"],
    S.SYSTEM_FAILURE: ["start_attempt", "system_failure"],
    S.CANCELED: ["cancel"],
    S.EXPIRED: ["expire"],
}


def _apply(engine: Engine, run_id: str, transition: str) -> bool:
    return _apply_with(engine, run_id, ATTEMPTS[transition])


def _apply_with(engine: Engine, run_id: str, attempt: Attempt) -> bool:
    with engine.store.transaction() as tx:
        row = tx.one("lock_run", id=run_id)
        assert row is not None
        return attempt(tx, row, engine.clock.now())


def _run_in(engine: Engine, trigger: Any, status: RunStatus) -> str:
    if status == S.DELAYED:
        return str(trigger(engine, "job", delay="10m").row["id"])
    run_id = str(trigger(engine, "job").row["id"])
    for step in PATHS[status]:
        assert _apply(engine, run_id, step), (status, step)
    assert status_of(engine, run_id) == status.value
    return run_id


def test_every_transition_and_status_is_tried() -> None:
    assert set(ATTEMPTS) == set(TRANSITIONS)
    assert set(PATHS) | {S.DELAYED} == set(RunStatus)


@pytest.mark.parametrize("transition", sorted(TRANSITIONS))
def test_a_transition_changes_exactly_the_statuses_the_table_allows(
    engine: Engine, trigger: Any, transition: str
) -> None:
    sources, target = TRANSITIONS[transition]
    runs = {status: _run_in(engine, trigger, status) for status in RunStatus}
    for status, run_id in runs.items():
        changed = _apply(engine, run_id, transition)
        assert changed == (status in sources), (transition, status)
        after = status_of(engine, run_id)
        assert after == (target if changed else status).value, (transition, status)


@pytest.mark.parametrize(("function", "transition"), [
    (_finish, "retry"), (_finish, "resume"), (_requeue, "complete"), (_end, "complete"),
])
def test_a_function_refuses_a_transition_its_query_does_not_apply(
    engine: Engine, trigger: Any, function: Callable[[str], Attempt], transition: str
) -> None:
    run_id = _run_in(engine, trigger, S.EXECUTING)
    with pytest.raises(ValueError, match="applies"):
        _apply_with(engine, run_id, function(transition))
    assert status_of(engine, run_id) == "EXECUTING"

