"""Runs that already started are claimed ahead of older fresh runs, on both stores, on every
claim path: the one-statement claim (any queue or named queues), the counting path of a
limited queue (keyless and keyed), and the counting path's other queues (environment limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.retry import Retry
from outlast.engine import Engine, Outcome
from outlast.engine.durable import Op
from tests.conftest import trigger_run

ENV = "dev"
RETRY = Retry(max_attempts=3, min_delay=10.0, factor=1.0, max_delay=10.0, randomize=False)

Claim = Callable[[Engine, int], list[dict[str, Any]]]


def _any(engine: Engine, n: int) -> list[dict[str, Any]]:
    return engine.claim(ENV, "w", None, n)


def _named(engine: Engine, n: int) -> list[dict[str, Any]]:
    return engine.claim(ENV, "w", ["q"], n)


PATHS: dict[str, tuple[dict[str, Any], Claim, str | None]] = {
    # (queue limits, how the worker claims, concurrency key of every run)
    "one-statement-any-queue": ({}, _any, None),
    "one-statement-named-queue": ({}, _named, None),
    "counting-keyless": ({"concurrency_limit": 50}, _any, None),
    "counting-keyed": ({"concurrency_limit": 50}, _any, "tenant"),
    "counting-rated": ({"rate_limit": "1000/m"}, _named, None),
    "environment-limit": ({"env_limit": 100}, _any, None),
}


@pytest.fixture(params=sorted(PATHS))
def path(request: pytest.FixtureRequest, engine: Engine,
         register: Callable[..., Any]) -> tuple[Claim, str | None]:
    limits, claim, key = PATHS[request.param]
    limits = dict(limits)
    env_limit = limits.pop("env_limit", None)
    register(engine, TaskDefinition(id="job", queue="q", retry=RETRY, **limits))
    if env_limit is not None:
        engine.queues.set_environment_limit(ENV, env_limit)
    return claim, key


def _started_runs(engine: Engine, clock: Any, claim: Claim, key: str | None) -> tuple[str, str]:
    """One run suspended on a 60 s sleep and one failed (retry in 10 s); returns their ids
    once both are queued again, 61 s later."""
    sleeper = trigger_run(engine, "job", concurrency_key=key).row["id"]
    failing = trigger_run(engine, "job", concurrency_key=key).row["id"]
    rows = {r["id"]: r for r in claim(engine, 2)}
    assert set(rows) == {sleeper, failing}
    lease = rows[sleeper]["lease_id"]
    engine.durable.sleep_until(Op(sleeper, lease, 0, "sleep", "nap"), clock.now() + 60)
    engine.record([Outcome(sleeper, lease, 1, "suspended"),
                   Outcome(failing, rows[failing]["lease_id"], 1, "failed",
                           error={"type": "Boom", "message": "try again"})])
    return sleeper, failing


def _fresh(engine: Engine, clock: Any, key: str | None, n: int) -> list[str]:
    """``n`` fresh runs, a millisecond apart (so their order is their age, not their ids)."""
    ids = []
    for _ in range(n):
        clock.advance(0.001)
        ids.append(trigger_run(engine, "job", concurrency_key=key).row["id"])
    return ids


def test_a_resumed_and_a_retried_run_go_ahead_of_older_fresh_runs(
        engine: Engine, clock: Any, path: tuple[Claim, str | None]) -> None:
    claim, key = path
    sleeper, failing = _started_runs(engine, clock, claim, key)
    clock.advance(1)
    fresh = _fresh(engine, clock, key, 30)
    urgent = trigger_run(engine, "job", concurrency_key=key, priority=100).row["id"]
    clock.advance(60)
    engine.sweep()
    assert engine.retrieve(ENV, sleeper)["status"] == "QUEUED"
    # the retry became due at +10 s and the sleep at +61 s: both after every fresh run was
    # queued, and a priority of 100 would put a fresh run 100 minutes ahead of them
    assert [r["id"] for r in claim(engine, 1)] == [failing]
    assert [r["id"] for r in claim(engine, 1)] == [sleeper]
    assert [r["id"] for r in claim(engine, 2)] == [urgent, fresh[0]]


def test_fresh_runs_take_the_rest_of_a_claim(
        engine: Engine, clock: Any, path: tuple[Claim, str | None]) -> None:
    claim, key = path
    sleeper, failing = _started_runs(engine, clock, claim, key)
    fresh = _fresh(engine, clock, key, 5)
    clock.advance(61)
    engine.sweep()
    assert [r["id"] for r in claim(engine, 4)] == [failing, sleeper, fresh[0], fresh[1]]
    assert [r["id"] for r in claim(engine, 10)] == fresh[2:]


def test_a_retry_still_backing_off_does_not_hold_fresh_runs(
        engine: Engine, clock: Any, path: tuple[Claim, str | None]) -> None:
    claim, key = path
    _, failing = _started_runs(engine, clock, claim, key)
    fresh = trigger_run(engine, "job", concurrency_key=key).row["id"]
    clock.advance(5)  # the retry is due at +10 s
    assert [r["id"] for r in claim(engine, 5)] == [fresh]
    clock.advance(5)
    assert [r["id"] for r in claim(engine, 5)] == [failing]


def test_a_limit_holds_for_started_runs_too(engine: Engine, clock: Any,
                                            register: Callable[..., Any]) -> None:
    register(engine, TaskDefinition(id="job", queue="q", retry=RETRY, concurrency_limit=1))
    sleeper, failing = _resumable_pair(engine, clock)
    clock.advance(61)
    engine.sweep()
    [first] = _any(engine, 5)
    assert first["id"] == failing
    assert _any(engine, 5) == []  # the queue's one slot is taken
    engine.record([Outcome(failing, first["lease_id"], 2, "completed")])
    assert [r["id"] for r in _any(engine, 5)] == [sleeper]


def _resumable_pair(engine: Engine, clock: Any) -> tuple[str, str]:
    """As ``_started_runs``, one at a time (the queue has one slot)."""
    ids = {trigger_run(engine, "job").row["id"] for _ in range(2)}
    [row] = _any(engine, 1)
    sleeper = row["id"]
    [failing] = ids - {sleeper}
    engine.durable.sleep_until(Op(sleeper, row["lease_id"], 0, "sleep", "nap"),
                               clock.now() + 60)
    engine.record([Outcome(sleeper, row["lease_id"], 1, "suspended")])
    [row] = _any(engine, 1)
    engine.record([Outcome(failing, row["lease_id"], 1, "failed",
                           error={"type": "Boom", "message": "try again"})])
    trigger_run(engine, "job")
    return sleeper, failing


def test_each_key_offers_its_started_run_first(engine: Engine, clock: Any,
                                               register: Callable[..., Any]) -> None:
    """The key whose turn it is offers its started run, not an older fresh run of the key,
    even when another key's started run is due earlier (the queue's head)."""
    register(engine, TaskDefinition(id="job", queue="q", retry=RETRY, concurrency_limit=5))
    boom = {"type": "Boom", "message": "try again"}
    trigger_run(engine, "job", concurrency_key="B")
    [b] = _any(engine, 1)
    trigger_run(engine, "job", concurrency_key="A")
    [a] = _any(engine, 1)  # the turn is now after A: B goes next
    engine.record([Outcome(a["id"], a["lease_id"], 1, "failed", error=boom)])  # due +10 s
    clock.advance(1)
    engine.record([Outcome(b["id"], b["lease_id"], 1, "failed", error=boom)])  # due +11 s
    fresh = [_fresh(engine, clock, k, 1)[0] for k in "AB"]
    clock.advance(10)
    assert [r["id"] for r in _any(engine, 1)] == [b["id"]]
    assert [r["id"] for r in _any(engine, 1)] == [a["id"]]
    assert {r["id"] for r in _any(engine, 5)} == set(fresh)


def test_the_claim_says_how_many_of_its_runs_had_started(
        engine: Engine, clock: Any, path: tuple[Claim, str | None]) -> None:
    """The worker puts those ahead of the fresh runs it already holds (claim_ahead.py)."""
    claim, key = path
    sleeper, failing = _started_runs(engine, clock, claim, key)
    fresh = _fresh(engine, clock, key, 2)
    clock.advance(61)
    engine.sweep()
    queues = ["q"] if claim is _named else None
    _, claimed = engine.record_and_claim([], ENV, "w", queues, 10)
    assert [r["id"] for r in claimed.rows] == [failing, sleeper, *fresh]
    assert claimed.resumed == 2
    trigger_run(engine, "job", concurrency_key=key)
    assert engine.record_and_claim([], ENV, "w", queues, 10)[1].resumed == 0


def test_a_claimed_run_that_had_started_comes_with_its_journal(
        engine: Engine, clock: Any, path: tuple[Claim, str | None]) -> None:
    """Its replay needs no round trip to ask for it; a fresh run comes with an empty
    one, so its first durable operation asks for none either."""
    claim, key = path
    sleeper, failing = _started_runs(engine, clock, claim, key)
    [fresh] = _fresh(engine, clock, key, 1)
    clock.advance(61)
    engine.sweep()
    queues = ["q"] if claim is _named else None
    _, claimed = engine.record_and_claim([], ENV, "w", queues, 10)
    rows = {r["id"]: r for r in claimed.rows}
    [entry] = rows[sleeper]["journal"]
    assert (entry["seq"], entry["kind"], entry["status"]) == (0, "sleep", "ok")
    assert rows[failing]["journal"] == []
    assert rows[fresh]["journal"] == []
