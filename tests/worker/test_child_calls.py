"""Answering a child's durable operations: writes wait for the worker's pending results
(the journal follows the run's logs and results in order); a read of the journal does not
(each resumed run asks for its journal first thing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.core.durable_requests import Op, ReadJournal, Record
from outlast.engine import Engine
from outlast.worker.child_calls import ChildCalls
from outlast.worker.messages import RuntimeCall


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
