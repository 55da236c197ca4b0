"""When a rate budget frees: the planner's waits (pure) and the claim's ``retry_at`` (both stores).

A run held back by ``rate_limit`` or ``key_rate_limit`` can start the moment the start
whose leaving frees the window leaves it; the claim reports that moment so a worker can
wake up then instead of on its poll. Only rates give such a hint: a pause or a concurrency
limit frees through an action or a completion, never through time.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.limits import Rate
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.flow import (
    Candidate,
    QueueState,
    RateWait,
    frees_at,
    next_start_at,
    plan,
)
from tests.conftest import T0, definition


def cands(n: int, queue: str = "a", key: str | None = None) -> list[Candidate]:
    return [Candidate(f"{queue}{key}{i}", queue, key, float(i)) for i in range(n)]


# -- the planner -------------------------------------------------------------------------

WAITS = [
    # (id, candidates, queue state, capacity, expected waits)
    ("fresh-window-filled-by-this-claim", cands(8), QueueState("a", rate=Rate(5, 1)), 10,
     [RateWait("a", None, Rate(5, 1), used=0, taken=5)]),
    ("window-already-full", cands(3), QueueState("a", rate=Rate(5, 1), rate_used=5), 10,
     [RateWait("a", None, Rate(5, 1), used=5, taken=0)]),
    ("partly-used-then-filled", cands(3), QueueState("a", rate=Rate(5, 1), rate_used=3), 10,
     [RateWait("a", None, Rate(5, 1), used=3, taken=2)]),
    ("over-budget-after-a-lowered-rate", cands(1), QueueState("a", rate=Rate(2, 1), rate_used=5),
     10, [RateWait("a", None, Rate(2, 1), used=5, taken=0)]),
    ("room-left-no-wait", cands(3), QueueState("a", rate=Rate(5, 1)), 10, []),
    ("capacity-not-rate-stops", cands(8), QueueState("a", rate=Rate(5, 1)), 3, []),
    ("key-rate", cands(2, key="u1") + cands(1, key="u2"),
     QueueState("a", key_rate=Rate(1, 1), key_rate_used={"u2": 1}), 10,
     [RateWait("a", "u1", Rate(1, 1), used=0, taken=1),
      RateWait("a", "u2", Rate(1, 1), used=1, taken=0)]),
    ("paused-no-wait", cands(3), QueueState("a", paused=True, rate=Rate(1, 1), rate_used=1), 10,
     []),
    ("concurrency-limit-no-wait", cands(3), QueueState("a", limit=1, running={None: 1}), 10, []),
    ("limit-checked-before-rate", cands(3),
     QueueState("a", limit=1, running={None: 1}, rate=Rate(1, 1), rate_used=1), 10, []),
    ("keyed-limit-and-a-full-window", [Candidate("a-u1", "a", "u1", 0.0)],
     QueueState("a", limit=1, running={"u1": 1}, rate=Rate(2, 1), rate_used=2), 10,
     [RateWait("a", None, Rate(2, 1), used=2, taken=0)]),
    ("total-checked-before-rate", cands(3),
     QueueState("a", total=1, running={None: 1}, rate=Rate(1, 1), rate_used=1), 10, []),
]


@pytest.mark.parametrize(("cs", "state", "capacity", "waits"), [c[1:] for c in WAITS],
                         ids=[c[0] for c in WAITS])
def test_plan_reports_the_rates_that_held_candidates_back(
    cs: list[Candidate], state: QueueState, capacity: int, waits: list[RateWait]
) -> None:
    assert plan(cs, {"a": state}, capacity).waits == waits


FREES = [
    # (rate, starts logged in the window before the claim, taken by the claim, now)
    (Rate(5, 1), [], 5, 100.0),
    (Rate(5, 1), [99.2, 99.4, 99.5, 99.6, 99.9], 0, 100.0),
    (Rate(5, 1), [99.2, 99.4, 99.5], 2, 100.0),
    (Rate(2, 1), [99.2, 99.4, 99.5, 99.6, 99.9], 0, 100.0),
    (Rate(3, 60), [50.0], 2, 100.0),
]


@pytest.mark.parametrize(("rate", "logged", "taken", "now"), FREES)
def test_frees_at_agrees_with_the_sliding_window(rate: Rate, logged: list[float], taken: int,
                                                 now: float) -> None:
    """The start at ``leaving`` (one query) tells what the whole log would."""
    wait = RateWait("a", None, rate, used=len(logged), taken=taken)
    leaving_at = logged[wait.leaving] if wait.leaving < wait.used else None
    assert frees_at(wait, leaving_at, now) == next_start_at(rate, logged + [now] * taken, now)


# -- the claim on both stores ---------------------------------------------------------------


def many(engine: Engine, n: int, **options: Any) -> None:
    opts = parse_options(options, engine.clock.now())
    engine.trigger_batch("dev", [NewRun("job", json.dumps(i), opts) for i in range(n)])


def claim(engine: Engine, capacity: int = 10) -> tuple[int, float | None]:
    _, claimed = engine.record_and_claim([], "dev", "w1", None, capacity)
    return len(claimed.rows), claimed.retry_at


def test_claim_hints_when_the_window_frees(engine: Engine, register: Any,
                                           clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", rate_limit="5/s"))
    many(engine, 8)
    assert claim(engine) == (5, pytest.approx(T0 + 1))
    clock.advance(0.5)
    assert claim(engine) == (0, pytest.approx(T0 + 1))
    clock.advance(0.5)
    assert claim(engine) == (3, None)  # nothing left waiting: no hint


def test_claim_hints_when_the_oldest_start_leaves(engine: Engine, register: Any,
                                                  clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", rate_limit="2/s"))
    many(engine, 4)
    assert claim(engine, 1) == (1, None)
    clock.advance(0.25)
    assert claim(engine, 1) == (1, None)
    assert claim(engine) == (0, pytest.approx(T0 + 1))
    clock.advance(0.75)
    assert claim(engine) == (1, pytest.approx(T0 + 1.25))


def test_over_budget_waits_for_enough_starts_to_leave(engine: Engine, register: Any,
                                                      clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", rate_limit="3/s"))
    many(engine, 4)
    for _ in range(3):
        assert claim(engine, 1)[0] == 1
        clock.advance(0.25)
    engine.queues.update("dev", "q", {"rate_limit": "1/s"})
    assert claim(engine) == (0, pytest.approx(T0 + 0.5 + 1))


def test_key_rate_hint(engine: Engine, register: Any, clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", key_rate_limit="1/s"))
    many(engine, 2, concurrency_key="a")
    clock.advance(0.5)
    many(engine, 2, concurrency_key="b")
    assert claim(engine, 1) == (1, None)  # a's first run, at T0 + 0.5
    clock.advance(0.25)
    assert claim(engine, 1) == (1, None)  # b's first run, at T0 + 0.75
    assert claim(engine) == (0, pytest.approx(T0 + 1.5))
    clock.advance(0.75)
    assert claim(engine) == (1, pytest.approx(T0 + 1.75))  # a's second; b's key frees later


@pytest.mark.parametrize("limits", [{"concurrency_limit": 1}, {"total_limit": 1}])
def test_no_hint_for_a_concurrency_limit(engine: Engine, register: Any,
                                         limits: dict[str, int]) -> None:
    register(engine, definition("job", queue="q", **limits))
    many(engine, 3)
    assert claim(engine) == (1, None)
    assert claim(engine) == (0, None)


def test_no_hint_for_a_paused_queue_or_an_empty_one(engine: Engine, register: Any,
                                                    clock: FakeClock) -> None:
    register(engine, definition("job", queue="q", rate_limit="1/s"))
    many(engine, 3)
    assert claim(engine) == (1, pytest.approx(T0 + 1))
    engine.queues.pause("dev", "q")
    assert claim(engine) == (0, None)
    engine.queues.resume("dev", "q")
    clock.advance(1)
    assert claim(engine, 5) == (1, pytest.approx(T0 + 2))
    clock.advance(1)
    assert claim(engine, 5) == (1, None)
    assert claim(engine, 5) == (0, None)


def test_a_full_window_hints_even_when_its_first_run_waits_for_its_key(
        engine: Engine, register: Any, clock: FakeClock) -> None:
    """Key a is at its limit and the window is full: c waits only for the window."""
    register(engine, definition("job", queue="q", rate_limit="2/s", concurrency_limit=1))
    opts = {k: parse_options({"concurrency_key": k}, engine.clock.now()) for k in "abc"}
    engine.trigger_batch("dev", [NewRun("job", "0", opts[k]) for k in "aabc"])
    _, first = engine.record_and_claim([], "dev", "w1", None, 10)
    assert len(first.rows) == 2 and first.retry_at is not None
    clock.advance(0.5)
    _, second = engine.record_and_claim([], "dev", "w1", None, 10)
    assert second.rows == [] and second.retry_at == first.retry_at
