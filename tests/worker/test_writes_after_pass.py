"""A child's durable writes wait for the worker's pass, which first records the logs and
results that came before them: one flush for all of them, not one each. On PostgreSQL the
results go to the end writer, and a write is answered on the first pass after they are
written: the loop does not wait for them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from outlast.core.durable_requests import Op, Record
from outlast.engine import Engine, Outcome
from outlast.worker.messages import Reply, RuntimeCall
from outlast.worker.supervisor import Supervisor
from tests.worker.support import FakeChild

PASSES = 5


def _passes_until_answered(supervisor: Supervisor, children: list[FakeChild],
                           one_pass: Callable[[], None]) -> int:
    """Run passes until every child has its reply (the end writer's answers waited for
    between them); how many passes that took."""
    for count in range(1, PASSES + 1):
        one_pass()
        if all(child.sent for child in children):
            return count
        if supervisor.ends is not None:
            supervisor.ends.flush(10.0)  # written, or a fault met
    raise AssertionError(f"not answered after {PASSES} passes")


def _runs(engine: Engine, trigger: Callable[..., Any], n: int) -> list[dict[str, Any]]:
    for _ in range(n):
        trigger(engine, "job")
    return engine.claim("dev", "worker-1", None, n)


def _completed(row: dict[str, Any]) -> Outcome:
    return Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed", 0.0)


def _step(request_id: int, row: dict[str, Any]) -> RuntimeCall:
    return RuntimeCall(request_id, Record(Op(row["id"], row["lease_id"], 0, "step", "s"), 1))


def test_writes_are_answered_after_one_flush_of_what_came_before_them(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A result, a step, another result, another step (two children at once): both steps
    are answered after the two results are recorded together, not one flush each."""
    done_1, done_2, step_1, step_2 = _runs(engine, trigger, 4)
    flushes: list[int] = []
    record = engine.record
    monkeypatch.setattr(engine, "record", lambda o: flushes.append(len(o)) or record(o))
    first, second = FakeChild(), FakeChild()
    supervisor.pending.outcomes.append(_completed(done_1))
    supervisor._handle(first, _step(1, step_1))  # type: ignore[arg-type]
    supervisor.pending.outcomes.append(_completed(done_2))
    supervisor._handle(second, _step(1, step_2))  # type: ignore[arg-type]
    assert first.sent == second.sent == []  # not before the pass
    passes = _passes_until_answered(supervisor, [first, second], supervisor._database_work)
    assert passes == (1 if supervisor.ends is None else 2)
    assert flushes == [2]
    for child in (first, second):
        [reply] = child.sent
        assert isinstance(reply, Reply) and reply.ok
    assert engine.retrieve("dev", done_2["id"])["status"] == "COMPLETED"


def test_a_write_is_answered_when_the_pass_fails(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is away: the child is told to ask again, not left waiting."""
    done, running = _runs(engine, trigger, 2)

    def away(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(engine, "record_and_claim", away)
    monkeypatch.setattr(engine, "record", away)
    child = FakeChild()
    supervisor.pending.outcomes.append(_completed(done))
    supervisor._handle(child, _step(1, running))  # type: ignore[arg-type]
    _passes_until_answered(supervisor, [child], supervisor._tick)
    [reply] = child.sent
    assert isinstance(reply, Reply) and not reply.ok
    assert reply.error is not None and reply.error["code"] == "platform_unavailable"
    assert supervisor.writes == []
