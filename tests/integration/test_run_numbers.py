"""A run's attempts, duration (execution), waiting and queued time and cost agree in every
state, final or live, on both stores: read the way the API and the run page read them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.engine.durable import Op
from outlast.machines import price
from tests.conftest import LEASE_SECONDS, trigger_run

ENV = "dev"
QUEUED_FOR = 2.0


@pytest.fixture
def job(engine: Engine, register: Callable[..., Any]) -> Callable[..., str]:
    """Trigger a ``job`` run and let it sit queued for ``QUEUED_FOR`` seconds."""
    register(engine, "job")

    def start(**options: Any) -> str:
        run_id = trigger_run(engine, "job", **options).row["id"]
        engine.clock.advance(QUEUED_FOR)  # type: ignore[attr-defined]
        return run_id

    return start


def claim(engine: Engine) -> dict[str, Any]:
    [row] = engine.claim(ENV, "w1", None, 1)
    return row


def ends(engine: Engine, row: dict[str, Any], kind: str, executed: float,
         **fields: Any) -> None:
    engine.clock.advance(executed)  # type: ignore[attr-defined]
    engine.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], kind,  # type: ignore[arg-type]
                           executed=executed, **fields)])


def numbers(engine: Engine, run_id: str) -> tuple[Any, ...]:
    run = engine.retrieve(ENV, run_id)
    return (run["status"], run["attempts"], run["duration"], run["cost"],
            run["waiting_duration"], run["queued_duration"])


def test_completed(engine: Engine, job: Callable[..., str]) -> None:
    run_id = job()
    ends(engine, claim(engine), "completed", 8.0)
    assert numbers(engine, run_id) == ("COMPLETED", 1, 8.0, price("small-1x", 8), 0.0,
                                       QUEUED_FOR)


def test_failed_after_retries_counts_every_attempt(engine: Engine, clock: FakeClock,
                                                   job: Callable[..., str]) -> None:
    run_id = job(max_attempts=2)
    ends(engine, claim(engine), "failed", 10.0, error={"type": "E", "message": "no"})
    clock.advance(60)  # past the retry delay
    ends(engine, claim(engine), "failed", 5.0, error={"type": "E", "message": "no"})
    status, attempts, duration, cost, waiting, queued = numbers(engine, run_id)
    assert (status, attempts, duration, waiting) == ("FAILED", 2, 15.0, 0.0)
    assert cost == pytest.approx(price("small-1x", 15))
    assert queued == QUEUED_FOR + 60


def test_canceled_after_work_charges_the_work(engine: Engine, clock: FakeClock,
                                              job: Callable[..., str]) -> None:
    run_id = job()
    row = claim(engine)
    clock.advance(120)
    engine.cancel(ENV, run_id)
    expected = ("CANCELED", 1, 120.0, price("small-1x", 120), 0.0, QUEUED_FOR)
    assert numbers(engine, run_id) == expected
    # the worker's report of the killed attempt comes late: dropped, not charged twice
    assert engine.record([Outcome(run_id, row["lease_id"], 1, "failed", executed=120.5)]) \
        == [None]
    assert numbers(engine, run_id) == expected


def test_crashed_when_its_worker_vanished_charges_until_the_last_heartbeat(
        engine: Engine, clock: FakeClock, job: Callable[..., str]) -> None:
    run_id = job(max_attempts=1)
    claim(engine)
    clock.advance(10)
    assert engine.heartbeat("w1", [run_id])
    clock.advance(LEASE_SECONDS + 1)
    assert engine.sweep().recovered == 1
    assert numbers(engine, run_id) == ("CRASHED", 1, 10.0, price("small-1x", 10), 0.0,
                                       QUEUED_FOR + LEASE_SECONDS + 1)


def test_timed_out(engine: Engine, job: Callable[..., str]) -> None:
    run_id = job()
    ends(engine, claim(engine), "timed_out", 60.0, error={"type": "T", "message": "late"})
    assert numbers(engine, run_id) == ("TIMED_OUT", 1, 60.0, price("small-1x", 60), 0.0,
                                       QUEUED_FOR)


def test_expired_never_ran(engine: Engine, clock: FakeClock, job: Callable[..., str]) -> None:
    run_id = job(ttl=10)
    clock.advance(10)
    assert engine.sweep().expired == 1
    run = engine.retrieve(ENV, run_id)
    assert numbers(engine, run_id) == ("EXPIRED", 0, 0.0, 0.0, 0.0, QUEUED_FOR + 10)
    assert run["started_at"] is None  # the page shows its duration as "–"


def test_parked_counts_its_attempt_and_waits(engine: Engine, clock: FakeClock,
                                            job: Callable[..., str]) -> None:
    run_id = job()
    ends(engine, claim(engine), "parked", 3.0,
         error={"type": "NonDeterminismError", "message": "changed", "seq": 0})
    clock.advance(50)
    assert numbers(engine, run_id) == ("PARKED", 1, 3.0, price("small-1x", 3), 50.0,
                                       QUEUED_FOR)


def test_suspended_then_resumed_and_completed(engine: Engine, clock: FakeClock,
                                              job: Callable[..., str]) -> None:
    run_id = job()
    row = claim(engine)
    clock.advance(4)
    engine.durable.sleep_until(Op(run_id, row["lease_id"], 1, "sleep", "nap"),
                               clock.now() + 60)
    engine.record([Outcome(run_id, row["lease_id"], 1, "suspended", executed=4.0)])
    clock.advance(30)
    assert numbers(engine, run_id) == ("WAITING", 1, 4.0, price("small-1x", 4), 30.0,
                                       QUEUED_FOR)
    clock.advance(30)
    assert engine.sweep().woken == 1
    assert numbers(engine, run_id)[:2] == ("QUEUED", 1)  # attempt 1 goes on
    clock.advance(1)
    row = claim(engine)
    clock.advance(2)  # live: the running attempt's time counts before it ends
    status, attempts, duration, cost, waiting, _ = numbers(engine, run_id)
    assert (status, attempts, duration, waiting) == ("EXECUTING", 1, 6.0, 60.0)
    assert cost == pytest.approx(price("small-1x", 4) + price("small-1x", 2))
    engine.record([Outcome(run_id, row["lease_id"], 1, "completed", executed=2.0)])
    assert numbers(engine, run_id) == ("COMPLETED", 1, 6.0, pytest.approx(price("small-1x", 6)),
                                       60.0, QUEUED_FOR + 1)


def test_a_live_run_shows_the_same_duration_in_lists(engine: Engine, clock: FakeClock,
                                                     job: Callable[..., str]) -> None:
    run_id = job()
    claim(engine)
    clock.advance(7)
    listed = {r["id"]: r for r in engine.list_runs(ENV)[0]}[run_id]
    one = engine.retrieve(ENV, run_id)
    assert (listed["duration"], listed["cost"]) == (one["duration"], one["cost"]) \
        == (7.0, price("small-1x", 7))
    assert listed["attempts"] == one["attempts"] == 1
