"""Answering a child's durable operations: writes wait for the worker's pending results
(the journal follows the run's logs and results in order); a read of the journal does not
(each resumed run asks for its journal first thing); completed steps of several attempts
share one transaction, and a failure there is each attempt's own, as if it were alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.core.durable_requests import Op, ReadJournal, Record
from outlast.engine import Engine
from outlast.worker.child_calls import ChildCalls
from outlast.worker.messages import RuntimeCall
from tests.worker.support import claimed_runs, counted_transactions


def test_a_journal_read_does_not_flush_but_a_write_does(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "job")
    trigger(engine, "job")
    row = engine.claim("dev", "worker-1", None, 1)[0]
    flushes: list[int] = []
    calls = ChildCalls(engine, "dev", lambda: flushes.append(1))
    read = calls.run_op(RuntimeCall(1, ReadJournal(row["id"], row["lease_id"])))
    assert read.ok and read.data == [] and flushes == []
    step = Record(Op(row["id"], row["lease_id"], 0, "step", "s"), 1)
    assert calls.run_op(RuntimeCall(2, step)).ok
    assert flushes == [1]


def _claimed(engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
             n: int) -> list[Any]:
    return claimed_runs(engine, register, trigger, n)


def _step(row: Any, request_id: int, result: Any) -> RuntimeCall:
    return RuntimeCall(request_id, Record(Op(row["id"], row["lease_id"], 0, "step", "s"),
                                          result))


def test_steps_of_several_attempts_share_one_transaction(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 3)
    calls = ChildCalls(engine, "dev", lambda: None)
    with counted_transactions(engine) as transactions:
        replies = calls.run_records([_step(row, i, i * 10) for i, row in enumerate(rows)])
    assert replies is not None and len(transactions) == 1
    assert [(r.request_id, r.ok, r.data) for r in replies] == [
        (i, True, {"done": True, "result": i * 10}) for i in range(3)]
    for i, row in enumerate(rows):
        assert [e["result"] for e in engine.durable.journal(row["id"], row["lease_id"])] == \
            [i * 10]


def test_a_lost_lease_fails_only_its_own_step(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 3)
    calls = ChildCalls(engine, "dev", lambda: None)
    engine.cancel("dev", rows[1]["id"])  # the attempt no longer holds its run
    messages = [_step(row, i, i) for i, row in enumerate(rows)]
    assert calls.run_records(messages) is None  # rolled back: nothing written together
    assert engine.durable.journal(rows[0]["id"], rows[0]["lease_id"]) == []
    replies = [calls.run_op(m) for m in messages]  # what the supervisor does then
    assert [r.ok for r in replies] == [True, False, True]
    assert [e["result"] for e in engine.durable.journal(rows[2]["id"], rows[2]["lease_id"])] \
        == [2]


def test_a_database_fault_tells_each_step_to_ask_again(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    import psycopg

    rows = _claimed(engine, register, trigger, 2)
    calls = ChildCalls(engine, "dev", lambda: None)

    def broken(*_: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    engine.durable.record_many = broken  # type: ignore[method-assign]
    replies = calls.run_records([_step(row, i, i) for i, row in enumerate(rows)])
    assert replies is not None
    assert [(r.ok, r.error["code"]) for r in replies] == [  # type: ignore[index]
        (False, "platform_unavailable")] * 2
    del engine.durable.record_many
    # asked again, each goes alone and is written once
    assert all(calls.run_op(_step(row, i, i)).ok for i, row in enumerate(rows))
    assert [len(engine.durable.journal(row["id"], row["lease_id"])) for row in rows] == [1, 1]
