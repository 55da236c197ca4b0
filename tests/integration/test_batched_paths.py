"""The one-statement paths: claiming without limits, and completing many runs at once."""

from __future__ import annotations

from typing import Any

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine

from .support import event_kinds, outcome, status_of

ENV = "dev"


def test_claim_without_limits_takes_runs_in_priority_order(
    engine: Engine, register: Any, trigger: Any
) -> None:
    register(engine, TaskDefinition(id="job", queue="a"), TaskDefinition(id="b", queue="b"))
    low = trigger(engine, "job", priority=0).row["id"]
    high = trigger(engine, "b", priority=5).row["id"]
    rows = engine.claim(ENV, "w", None, 10)
    assert [r["id"] for r in rows] == [high, low]
    assert all("limited_queues" not in r for r in rows)
    for row in rows:
        assert event_kinds(engine, row["id"]) == ["created", "start_attempt"]
        [attempt] = engine.attempts(row["id"])
        assert attempt["status"] == "EXECUTING"


def test_claim_from_named_queues_reads_only_those(
    engine: Engine, register: Any, trigger: Any
) -> None:
    register(engine, TaskDefinition(id="job", queue="a"), TaskDefinition(id="b", queue="b"))
    for _ in range(3):
        trigger(engine, "job")
    wanted = trigger(engine, "b").row["id"]
    assert [r["id"] for r in engine.claim(ENV, "w", ["b"], 10)] == [wanted]
    assert len(engine.claim(ENV, "w", ["a", "b"], 2)) == 2
    assert engine.claim(ENV, "w", ["c"], 10) == []


def test_a_limited_queue_among_the_named_ones_is_counted(
    engine: Engine, register: Any, trigger: Any
) -> None:
    register(engine, TaskDefinition(id="job", queue="a"),
             TaskDefinition(id="lim", queue="lim", concurrency_limit=1))
    for _ in range(2):
        trigger(engine, "lim")
    trigger(engine, "job")
    rows = engine.claim(ENV, "w", ["a", "lim"], 10)
    assert sorted(r["queue"] for r in rows) == ["a", "lim"]
    assert engine.claim(ENV, "w", ["a", "lim"], 10) == []


def test_completions_in_one_batch_are_guarded_each_by_its_lease(
    engine: Engine, register: Any, trigger: Any
) -> None:
    register(engine, TaskDefinition(id="job", queue="a"))
    for _ in range(3):
        trigger(engine, "job")
    rows = engine.claim(ENV, "w", None, 10)
    stale = outcome(rows[2] | {"lease_id": "lease_gone"}, machine="small-1x")
    decisions = engine.record([
        outcome(rows[0], output={"n": 1}, executed=2.0, machine="small-1x"),
        outcome(rows[1], output=None, machine="small-1x"),
        stale,
    ])
    assert [d.transition if d else None for d in decisions] == ["complete", "complete", None]
    first = engine.retrieve(ENV, rows[0]["id"])
    assert first["status"] == "COMPLETED" and first["output"] == {"n": 1}
    assert first["cost"] > 0
    assert status_of(engine, rows[2]["id"]) == "EXECUTING"
    assert event_kinds(engine, rows[0]["id"]) == ["created", "start_attempt", "complete"]
    assert [a["status"] for a in engine.attempts(rows[1]["id"])] == ["COMPLETED"]
    assert engine.record([outcome(rows[0], machine="small-1x")]) == [None]


def test_record_and_claim_share_one_transaction(
    engine: Engine, register: Any, trigger: Any
) -> None:
    register(engine, TaskDefinition(id="job", queue="a"))
    first = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w", None, 1)
    second = trigger(engine, "job").row["id"]
    decisions, claimed = engine.record_and_claim([outcome(row, machine="small-1x")], ENV, "w",
                                                 None, 5)
    assert decisions[0] is not None and status_of(engine, first) == "COMPLETED"
    assert [r["id"] for r in claimed.rows] == [second]
