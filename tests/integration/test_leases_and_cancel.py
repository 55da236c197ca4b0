"""Leases, fencing, heartbeats and cancellation, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.retry import Retry
from outlast.engine import Engine
from outlast.engine.attempts import Decision
from outlast.errors import InvalidTransitionError, RunNotFoundError

from .support import event_kinds, outcome, status_of

ENV = "dev"


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, TaskDefinition(
        id="job", queue="job",
        retry=Retry(max_attempts=2, min_delay=5.0, randomize=False),
    ))


def lapse(engine: Engine, clock: Any) -> None:
    """Move past every lease and let the sweeper recover them."""
    clock.advance(engine.lease_seconds + 1)


def test_sweeper_recovers_a_lapsed_lease_and_fences_the_old_attempt(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job").row["id"]
    [old] = engine.claim(ENV, "w1", None, 1)
    clock.advance(engine.lease_seconds)  # exactly at expiry: not lapsed yet
    assert engine.sweep().recovered == 0
    clock.advance(1)
    assert engine.sweep().recovered == 1
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "QUEUED"
    assert run["error"]["type"] == "WorkerLost"
    assert engine.attempts(run_id)[0]["finished_at"] == clock.now()
    # the old attempt comes back late: nothing it says is written
    assert engine.record([outcome(old, output="late")]) == [None]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "QUEUED" and run["output"] is None
    assert engine.heartbeat("w1", [run_id]) == {}
    # another worker takes it over; the old lease still cannot write
    clock.advance(60)
    [new] = engine.claim(ENV, "w2", None, 1)
    assert new["attempt_count"] == 2 and new["lease_id"] != old["lease_id"]
    assert engine.record([outcome(old, output="late")]) == [None]
    assert engine.record([outcome(new, output="ok")]) == [Decision("complete")]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "COMPLETED" and run["output"] == "ok"
    assert event_kinds(engine, run_id) == [
        "created", "start_attempt", "retry", "start_attempt", "complete",
    ]


def test_lapsed_lease_on_the_last_attempt_crashes_the_run(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job", max_attempts=1).row["id"]
    [old] = engine.claim(ENV, "w1", None, 1)
    lapse(engine, clock)
    assert engine.sweep().recovered == 1
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "CRASHED" and run["is_final"]
    assert run["error"]["type"] == "WorkerLost"
    assert engine.record([outcome(old, output="late")]) == [None]
    assert status_of(engine, run_id) == "CRASHED"


def test_heartbeat_extends_leases(engine: Engine, clock: Any, trigger: Any) -> None:
    ids = [trigger(engine, "job").row["id"] for _ in range(2)]
    rows = engine.claim(ENV, "w1", None, 2)
    for _ in range(5):
        clock.advance(engine.lease_seconds - 1)
        held = engine.heartbeat("w1", ids)
        assert held == {r["id"]: r["lease_id"] for r in rows}
        assert engine.sweep().recovered == 0
    assert all(status_of(engine, i) == "EXECUTING" for i in ids)
    lapse(engine, clock)
    assert engine.sweep().recovered == 2


def test_heartbeat_reports_runs_no_longer_held(engine: Engine, clock: Any, trigger: Any) -> None:
    keep = trigger(engine, "job").row["id"]
    drop = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w1", None, 2)
    engine.cancel(ENV, drop)
    held = engine.heartbeat("w1", [keep, drop])
    assert set(held) == {keep}
    assert engine.heartbeat("w2", [keep]) == {}  # not this worker's run
    assert engine.heartbeat("w1", []) == {}


def test_heartbeat_after_recovery_does_not_resurrect(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w1", None, 1)
    lapse(engine, clock)
    engine.sweep()
    assert engine.heartbeat("w1", [run_id]) == {}
    assert status_of(engine, run_id) == "QUEUED"


@pytest.mark.parametrize("start", ["DELAYED", "QUEUED", "EXECUTING"])
def test_cancel(engine: Engine, clock: Any, trigger: Any, start: str) -> None:
    run_id = trigger(engine, "job", delay="1h" if start == "DELAYED" else None).row["id"]
    claimed = engine.claim(ENV, "w1", None, 1) if start == "EXECUTING" else []
    assert status_of(engine, run_id) == start
    clock.advance(3)
    run = engine.cancel(ENV, run_id)
    assert run["status"] == "CANCELED" and run["is_final"]
    assert run["finished_at"] == clock.now()
    assert event_kinds(engine, run_id)[-1] == "cancel"
    # nothing brings it back
    clock.advance(7200)
    engine.sweep()
    assert engine.claim(ENV, "w2", None, 10) == []
    if claimed:
        assert engine.record([outcome(claimed[0], output=1)]) == [None]
    assert status_of(engine, run_id) == "CANCELED"


@pytest.mark.parametrize("kind", ["completed", "aborted"])
def test_cancel_of_a_final_run_is_refused(engine: Engine, trigger: Any, kind: str) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    engine.record([outcome(row, kind)])
    final = status_of(engine, run_id)
    with pytest.raises(InvalidTransitionError):
        engine.cancel(ENV, run_id)
    assert status_of(engine, run_id) == final


def test_cancel_twice_is_refused(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.cancel(ENV, run_id)
    with pytest.raises(InvalidTransitionError):
        engine.cancel(ENV, run_id)
    assert event_kinds(engine, run_id) == ["created", "cancel"]


def test_cancel_of_an_unknown_run(engine: Engine) -> None:
    with pytest.raises(RunNotFoundError):
        engine.cancel(ENV, "run_nope")


def test_expired_run_cannot_be_canceled(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job", ttl="1m").row["id"]
    clock.advance(60)
    engine.sweep()
    with pytest.raises(InvalidTransitionError):
        engine.cancel(ENV, run_id)


def _log(row: dict[str, Any], message: str) -> dict[str, Any]:
    return {"run_id": row["id"], "lease_id": row["lease_id"], "attempt": row["attempt_count"],
            "at": 0.0, "level": "INFO", "message": message, "attributes": "{}"}


def test_a_stale_attempts_log_lines_are_dropped(engine: Engine, clock: Any,
                                               trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [old] = engine.claim(ENV, "w1", None, 1)
    engine.append_logs([_log(old, "first attempt, lease held")])
    lapse(engine, clock)
    assert engine.sweep().recovered == 1
    engine.append_logs([_log(old, "late: the run was recovered")])
    clock.advance(60)
    [new] = engine.claim(ENV, "w2", None, 1)
    engine.append_logs([_log(old, "late: another attempt holds the run"),
                        _log(new, "second attempt")])
    assert [line["message"] for line in engine.logs(run_id)] == [
        "first attempt, lease held", "second attempt"]
    assert [line["attempt"] for line in engine.logs(run_id)] == [1, 2]
