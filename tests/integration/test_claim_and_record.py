"""Claiming runs and recording how their attempts ended, on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.retry import Retry
from outlast.engine import Engine
from outlast.engine.attempts import Decision

from .support import event_kinds, outcome, status_of

ENV = "dev"
NO_JITTER = Retry(max_attempts=3, min_delay=10.0, factor=2.0, max_delay=60.0, randomize=False)


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(
        engine,
        TaskDefinition(id="job", queue="job", retry=NO_JITTER),
        TaskDefinition(id="limited", queue="narrow", concurrency_limit=2, retry=NO_JITTER),
        TaskDefinition(id="oom", queue="oom",
                       retry=Retry(max_attempts=2, randomize=False,
                                   out_of_memory_machine="large-1x")),
    )


def test_claim_starts_runs_with_an_attempt_and_a_lease(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    ids = [trigger(engine, "job", {"i": i}).row["id"] for i in range(3)]
    rows = engine.claim(ENV, "worker-1", None, 10)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    leases = {r["lease_id"] for r in rows}
    assert len(leases) == 1 and next(iter(leases)).startswith("lease_")
    for row in rows:
        assert row["attempt_count"] == 1
        with engine.store.transaction(write=False) as tx:
            stored = tx.one("get_run", id=row["id"], environment=ENV)
        assert stored is not None and stored["status"] == "EXECUTING"
        assert stored["worker_id"] == "worker-1" and stored["lease_id"] == row["lease_id"]
        assert stored["lease_expires_at"] == clock.now() + engine.lease_seconds
        run = engine.retrieve(ENV, row["id"])
        assert run["status"] == "EXECUTING" and run["started_at"] == clock.now()
        [attempt] = engine.attempts(row["id"])
        assert attempt["number"] == 1 and attempt["status"] == "EXECUTING"
        assert attempt["worker_id"] == "worker-1" and attempt["machine"] == "small-1x"
        assert event_kinds(engine, row["id"]) == ["created", "start_attempt"]
    assert engine.claim(ENV, "worker-2", None, 10) == []


def test_claim_respects_capacity(engine: Engine, trigger: Any) -> None:
    for _ in range(5):
        trigger(engine, "job")
    assert len(engine.claim(ENV, "w", None, 2)) == 2
    assert len(engine.claim(ENV, "w", None, 2)) == 2
    assert len(engine.claim(ENV, "w", None, 2)) == 1
    assert engine.claim(ENV, "w", None, 2) == []


def test_claim_respects_the_queue_concurrency_limit(engine: Engine, trigger: Any) -> None:
    for _ in range(5):
        trigger(engine, "limited")
    first = engine.claim(ENV, "w1", None, 10)
    assert len(first) == 2
    assert engine.claim(ENV, "w2", None, 10) == []
    engine.record([outcome(first[0])])
    second = engine.claim(ENV, "w2", None, 10)
    assert len(second) == 1
    assert engine.claim(ENV, "w3", None, 10) == []


def test_a_full_queue_does_not_block_other_queues(engine: Engine, trigger: Any) -> None:
    for _ in range(3):
        trigger(engine, "limited")
    engine.claim(ENV, "w", ["narrow"], 10)
    job = trigger(engine, "job").row["id"]
    trigger(engine, "limited")
    assert [r["id"] for r in engine.claim(ENV, "w", None, 10)] == [job]


def test_claim_only_from_the_named_queues(engine: Engine, trigger: Any) -> None:
    narrow = trigger(engine, "limited").row["id"]
    trigger(engine, "job")
    assert [r["id"] for r in engine.claim(ENV, "w", ["narrow"], 10)] == [narrow]
    assert engine.claim(ENV, "w", ["nothing-here"], 10) == []


def test_claim_orders_by_priority_then_age(engine: Engine, clock: Any, trigger: Any) -> None:
    low = trigger(engine, "job", priority=0).row["id"]
    clock.advance(1)
    high = trigger(engine, "job", priority=10).row["id"]
    clock.advance(1)
    low2 = trigger(engine, "job", priority=0).row["id"]
    assert [r["id"] for r in engine.claim(ENV, "w", None, 1)] == [high]
    assert [r["id"] for r in engine.claim(ENV, "w", None, 1)] == [low]
    assert [r["id"] for r in engine.claim(ENV, "w", None, 1)] == [low2]


def test_claim_is_per_environment(engine: Engine, register: Any, trigger: Any) -> None:
    register(engine, "job", env="prod")
    trigger(engine, "job", env="prod")
    assert engine.claim(ENV, "w", None, 10) == []
    assert len(engine.claim("prod", "w", None, 10)) == 1


def test_record_completed(engine: Engine, clock: Any, trigger: Any) -> None:
    trigger(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    clock.advance(5)
    [decision] = engine.record([outcome(row, output={"price": 1.0}, executed=4.5)])
    assert decision == Decision("complete")
    run = engine.retrieve(ENV, row["id"])
    assert run["status"] == "COMPLETED" and run["is_final"]
    assert run["output"] == {"price": 1.0}
    assert run["finished_at"] == clock.now()
    assert run["duration"] == 4.5 and run["cost"] > 0
    [attempt] = engine.attempts(row["id"])
    assert attempt["status"] == "COMPLETED" and attempt["finished_at"] == clock.now()
    assert event_kinds(engine, row["id"]) == ["created", "start_attempt", "complete"]


def test_record_completed_with_none_output(engine: Engine, trigger: Any) -> None:
    trigger(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    engine.record([outcome(row, output=None)])
    run = engine.retrieve(ENV, row["id"])
    assert run["status"] == "COMPLETED" and run["output"] is None


def test_failed_attempt_is_retried_later_not_before(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    trigger(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    error = {"type": "ValueError", "message": "boom"}
    [decision] = engine.record([outcome(row, "failed", error=error)])
    assert decision == Decision("retry", 10.0, "small-1x")
    run = engine.retrieve(ENV, row["id"])
    assert run["status"] == "QUEUED"
    assert run["available_at"] == clock.now() + 10
    assert run["error"] == error
    assert engine.attempts(row["id"])[0]["status"] == "FAILED"
    clock.advance(9.9)
    assert engine.claim(ENV, "w", None, 1) == []
    clock.advance(0.1)
    [again] = engine.claim(ENV, "w", None, 1)
    assert again["id"] == row["id"] and again["attempt_count"] == 2
    assert again["lease_id"] != row["lease_id"]
    assert [a["number"] for a in engine.attempts(row["id"])] == [1, 2]


def test_failures_until_the_last_attempt_end_failed(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "job").row["id"]
    delays = []
    for _ in range(3):
        clock.advance(60)
        [row] = engine.claim(ENV, "w", None, 1)
        [decision] = engine.record([outcome(row, "failed", error={"message": "x"})])
        assert decision is not None
        delays.append(decision.delay)
    assert delays == [10.0, 20.0, 0.0]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "FAILED" and run["attempts"] == 3
    assert [a["status"] for a in engine.attempts(run_id)] == ["FAILED", "FAILED", "FAILED"]
    assert event_kinds(engine, run_id) == [
        "created", "start_attempt", "retry", "start_attempt", "retry", "start_attempt", "fail",
    ]


def test_max_attempts_option_overrides_the_task(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job", max_attempts=1).row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    engine.record([outcome(row, "failed")])
    assert status_of(engine, run_id) == "FAILED"


def test_abort_fails_at_once(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    [decision] = engine.record([outcome(row, "aborted", error={"message": "no symbol"})])
    assert decision == Decision("fail")
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "FAILED" and run["attempts"] == 1
    assert run["error"] == {"message": "no symbol"}


def test_crash_on_the_last_attempt_is_crashed(engine: Engine, clock: Any, trigger: Any) -> None:
    run_id = trigger(engine, "job", max_attempts=2).row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    assert engine.record([outcome(row, "crashed")])[0].transition == "retry"  # type: ignore[union-attr]
    clock.advance(60)
    [row] = engine.claim(ENV, "w", None, 1)
    assert engine.record([outcome(row, "crashed")]) == [Decision("crash")]
    assert status_of(engine, run_id) == "CRASHED"


def test_out_of_memory_retries_on_a_bigger_machine(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    run_id = trigger(engine, "oom").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    assert row["machine"] == "small-1x"
    engine.record([outcome(row, "oom")])
    clock.advance(60)
    [row] = engine.claim(ENV, "w", None, 1)
    assert row["machine"] == "large-1x"
    assert [a["machine"] for a in engine.attempts(run_id)] == ["small-1x", "large-1x"]
    engine.record([outcome(row, "oom")])
    assert status_of(engine, run_id) == "CRASHED"


def test_timed_out_ends_the_run(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    assert engine.record([outcome(row, "timed_out")]) == [Decision("time_out")]
    assert status_of(engine, run_id) == "TIMED_OUT"


def test_retry_override(engine: Engine, clock: Any, trigger: Any) -> None:
    a = trigger(engine, "job").row["id"]
    b = trigger(engine, "job").row["id"]
    rows = {r["id"]: r for r in engine.claim(ENV, "w", None, 2)}
    decisions = engine.record([
        outcome(rows[a], "failed", retry_override=False),
        outcome(rows[b], "failed", retry_override=300.0),
    ])
    assert decisions == [Decision("fail"), Decision("retry", 300.0, "small-1x")]
    assert status_of(engine, a) == "FAILED"
    assert engine.retrieve(ENV, b)["available_at"] == clock.now() + 300


def test_many_outcomes_recorded_in_one_call(engine: Engine, trigger: Any) -> None:
    for _ in range(4):
        trigger(engine, "job")
    rows = engine.claim(ENV, "w", None, 4)
    kinds = ["completed", "failed", "aborted", "timed_out"]
    decisions = engine.record([outcome(r, k) for r, k in zip(rows, kinds, strict=True)])
    assert [d.transition for d in decisions if d] == ["complete", "retry", "fail", "time_out"]
    assert engine.record([]) == []


def test_outcome_for_an_unknown_run_is_stale(engine: Engine) -> None:
    from outlast.engine import Outcome

    assert engine.record([Outcome("run_nope", "lease_nope", 1, "completed")]) == [None]


def test_recording_twice_is_fenced(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    assert engine.record([outcome(row, output=1)]) == [Decision("complete")]
    assert engine.record([outcome(row, "failed")]) == [None]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "COMPLETED" and run["output"] == 1


def test_released_run_goes_back_to_its_queue(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    assert engine.record([outcome(row, "released")]) == [Decision("release")]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "QUEUED" and run["attempts"] == 0
    assert engine.attempts(run_id)[0]["status"] == "RELEASED"


def test_released_run_can_be_claimed_again(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    engine.record([outcome(row, "released")])
    [again] = engine.claim(ENV, "w2", None, 1)
    assert again["id"] == run_id and again["attempt_count"] == 1
    assert status_of(engine, run_id) == "EXECUTING"
    # the handed-back attempt's number is taken again: one attempt, now w2's
    assert [(a["number"], a["status"], a["worker_id"]) for a in engine.attempts(run_id)] == [
        (1, "EXECUTING", "w2")]
