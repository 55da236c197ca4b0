"""A durable call asked again after a database fault may have committed the first time
(the connection dropped after ``COMMIT``, before its answer came back). The worker then
answers from the journal: the step is not recorded twice, children are not triggered
twice, and the task sees the answer the first try gave."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from outlast.core.durable_requests import (
    ChildRun,
    DurableRequest,
    Op,
    Record,
    SleepFor,
    Trigger,
    UpdateMetadata,
    caller,
)
from outlast.engine import Engine
from outlast.worker import runtime
from outlast.worker.child_calls import ChildCalls
from outlast.worker.messages import Reply, RuntimeCall

FAULT = sqlite3.OperationalError("database is locked")


@pytest.fixture
def attempt(engine: Engine, register: Callable[..., Any],
            trigger: Callable[..., Any]) -> dict[str, Any]:
    register(engine, "parent", "child")
    trigger(engine, "parent")
    row = engine.claim("dev", "worker-1", None, 1)[0]
    return {"run_id": row["id"], "lease_id": row["lease_id"]}


def at(attempt: dict[str, Any], seq: int, kind: str, name: str) -> Op:
    return Op(attempt["run_id"], attempt["lease_id"], seq, kind, name)


def ask_again(engine: Engine, request: DurableRequest) -> Reply:
    """The same call once more, after it met a fault (its answer never came back)."""
    calls = ChildCalls(engine, "dev", lambda: None)
    calls.faults.answer(caller(request), FAULT, 0.0)
    return calls.run_op(RuntimeCall(7, request))


def test_a_step_whose_commit_landed_is_not_recorded_twice(engine: Engine,
                                                          attempt: dict[str, Any]) -> None:
    request = Record(at(attempt, 0, "step", "charge"), {"charged": 42})
    first = runtime.dispatch(engine, "dev", request)
    again = ask_again(engine, request)
    assert again.ok, again.error
    assert again.data == first == {"done": True, "result": {"charged": 42}}
    assert len(engine.durable.run_journal(attempt["run_id"])) == 1


def test_children_are_not_triggered_twice(engine: Engine, attempt: dict[str, Any]) -> None:
    request = Trigger(at(attempt, 0, "trigger", "child"), [ChildRun("child", {"n": 1}, {})],
                      wait=False, batch=False)
    first = runtime.dispatch(engine, "dev", request)
    again = ask_again(engine, request)
    assert again.ok and again.data == first
    children = engine.list_runs("dev", parent_id=attempt["run_id"], limit=10)[0]
    assert [c["id"] for c in children] == first["result"]["ids"]


def test_a_wait_that_was_written_suspends_again(engine: Engine,
                                                attempt: dict[str, Any]) -> None:
    request = SleepFor(at(attempt, 0, "sleep", "wait.sleep"), 3600)
    assert runtime.dispatch(engine, "dev", request) == {"done": False}
    again = ask_again(engine, request)
    assert again.ok and again.data == {"done": False}


def test_another_operation_at_that_place_is_not_answered_from_it(
        engine: Engine, attempt: dict[str, Any]) -> None:
    runtime.dispatch(engine, "dev", Record(at(attempt, 0, "step", "a"), 1))
    assert runtime.committed(engine, Record(at(attempt, 0, "step", "b"))) is None
    assert runtime.committed(engine, Record(at(attempt, 1, "step", "a"))) is None
    metadata = UpdateMetadata(attempt["run_id"], attempt["lease_id"], [])
    assert runtime.committed(engine, metadata) is None
