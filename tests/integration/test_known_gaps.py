"""Behaviour the contract or the store protocol promises, checked on both stores.

Each of these once failed: stale and live outcomes in one batch, attempt rows of canceled
runs, per-key concurrency limits, a zero idempotency TTL, wake-ups for every queue of a
batch, and local listeners on PostgreSQL.
"""

from __future__ import annotations

import json
import select
import time
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.engine.events import QUEUED_CHANNEL

from .support import outcome, status_of

ENV = "dev"


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(
        engine,
        TaskDefinition(id="job", queue="job"),
        TaskDefinition(id="limited", queue="narrow", concurrency_limit=2),
    )


def test_a_batch_mixing_stale_and_live_outcomes_writes_only_the_live_ones(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    stale_id = trigger(engine, "job").row["id"]
    [stale] = engine.claim(ENV, "w1", None, 1)
    clock.advance(engine.lease_seconds + 1)
    engine.sweep()
    clock.advance(3600)  # past the retry delay: the recovered run is claimable again
    [live] = engine.claim(ENV, "w2", None, 1)
    assert live["id"] == stale_id and live["attempt_count"] == 2
    decisions = engine.record([outcome(stale, output=1), outcome(live, output=2)])
    assert decisions[0] is None and decisions[1] is not None
    run = engine.retrieve(ENV, stale_id)
    assert run["status"] == "COMPLETED" and run["output"] == 2
    assert [a["status"] for a in engine.attempts(stale_id)] == ["CRASHED", "COMPLETED"]


def test_cancel_of_an_executing_run_ends_its_attempt(engine: Engine, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w", None, 1)
    engine.cancel(ENV, run_id)
    [attempt] = engine.attempts(run_id)
    assert attempt["status"] != "EXECUTING"
    assert attempt["finished_at"] is not None


def test_concurrency_limit_holds_per_concurrency_key(engine: Engine, trigger: Any) -> None:
    for key in ["u1", "u1", "u1", "u2", "u2", "u2"]:
        trigger(engine, "limited", concurrency_key=key)
    rows = engine.claim(ENV, "w", None, 10)
    per_key: dict[str, int] = {}
    for row in rows:
        per_key[row["concurrency_key"]] = per_key.get(row["concurrency_key"], 0) + 1
    assert per_key == {"u1": 2, "u2": 2}


def test_a_full_key_does_not_block_other_keys_of_the_queue(
    engine: Engine, trigger: Any
) -> None:
    for _ in range(3):
        trigger(engine, "limited", concurrency_key="u1")
    assert len(engine.claim(ENV, "w", None, 10)) == 2
    assert engine.claim(ENV, "w", None, 10) == []
    other = trigger(engine, "limited", concurrency_key="u2").row["id"]
    keyless = trigger(engine, "limited").row["id"]
    assert sorted(r["id"] for r in engine.claim(ENV, "w", None, 10)) == sorted([other, keyless])


def test_zero_idempotency_ttl_does_not_become_thirty_days(
    engine: Engine, clock: Any, trigger: Any
) -> None:
    first = trigger(engine, "job", idempotency_key="k", idempotency_key_ttl=0)
    clock.advance(1)
    assert trigger(engine, "job", idempotency_key="k").row["id"] != first.row["id"]


def _wait_for(listener: Any, want: set[str], seconds: float = 5.0) -> set[str]:
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while not want <= seen and time.monotonic() < deadline:
        select.select([listener.fileno()], [], [], max(0.0, deadline - time.monotonic()))
        seen |= {payload for channel, payload in listener.drain() if channel == QUEUED_CHANNEL}
    return seen


def test_trigger_wakes_listeners_of_its_queue(engine: Engine, trigger: Any) -> None:
    listener = engine.store.listen([QUEUED_CHANNEL])
    try:
        trigger(engine, "job")
        assert "job" in _wait_for(listener, {"job"})
    finally:
        listener.close()


def test_a_batch_wakes_listeners_of_every_queue_in_it(engine: Engine) -> None:
    listener = engine.store.listen([QUEUED_CHANNEL])
    try:
        engine.trigger_batch(ENV, [NewRun("job", json.dumps(1), TriggerOptions()),
                                   NewRun("limited", json.dumps(2), TriggerOptions())])
        assert _wait_for(listener, {"job", "narrow"}, seconds=1.0) >= {"job", "narrow"}
    finally:
        listener.close()


def test_local_listeners_hear_this_process_commits(engine: Engine, trigger: Any) -> None:
    heard: list[tuple[str, str]] = []
    engine.store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    run_id = trigger(engine, "job").row["id"]
    assert (QUEUED_CHANNEL, "job") in heard
    assert status_of(engine, run_id) == "QUEUED"
