"""A child's durable write waits for the worker's pass, which records the logs and results
that came before it: no transaction of its own to flush them first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine, Outcome
from outlast.worker.messages import Reply, RuntimeCall
from outlast.worker.supervisor import Supervisor


class FakeChild:
    """Keeps what the supervisor sends it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> bool:
        self.sent.append(message)
        return True


@pytest.fixture
def supervisor(engine: Engine, register: Callable[..., Any]) -> Iterator[Supervisor]:
    """A supervisor without children, driven pass by pass by the test."""
    register(engine, "job")
    sup = Supervisor(engine, environment="dev", task_dirs=[], root=Path("."), concurrency=1,
                     sweep=False)
    yield sup
    sup._shutdown()  # closes its listener and wake-up pipe


def _two_runs(engine: Engine, trigger: Callable[..., Any]) -> tuple[Outcome, RuntimeCall]:
    """One run that completed (its result pending in the worker) and a step of another."""
    trigger(engine, "job")
    trigger(engine, "job")
    done, running = engine.claim("dev", "worker-1", None, 2)
    result = Outcome(done["id"], done["lease_id"], done["attempt_count"], "completed", 0.0)
    step = RuntimeCall(1, "record", {"run_id": running["id"], "lease_id": running["lease_id"],
                                     "seq": 0, "kind": "step", "name": "s", "result": 1})
    return result, step


def test_a_write_is_answered_after_the_pass_that_records_what_came_before_it(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    result, step = _two_runs(engine, trigger)
    flushes: list[int] = []
    record = engine.record
    monkeypatch.setattr(engine, "record", lambda o: flushes.append(len(o)) or record(o))
    child = FakeChild()
    supervisor.pending.outcomes.append(result)
    supervisor._handle(child, step)  # type: ignore[arg-type]
    assert child.sent == []  # not before the pass
    supervisor._database_work()
    [reply] = child.sent
    assert isinstance(reply, Reply) and reply.ok
    assert flushes == []  # the pass wrote the result; the write needed no flush of its own
    assert engine.retrieve("dev", result.run_id)["status"] == "COMPLETED"


def test_a_write_is_answered_when_the_pass_fails(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The database is away: the child is told to ask again, not left waiting."""
    result, step = _two_runs(engine, trigger)

    def away(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(engine, "record_and_claim", away)
    monkeypatch.setattr(engine, "record", away)
    child = FakeChild()
    supervisor.pending.outcomes.append(result)
    supervisor._handle(child, step)  # type: ignore[arg-type]
    supervisor._tick()
    [reply] = child.sent
    assert isinstance(reply, Reply) and not reply.ok
    assert reply.error is not None and reply.error["code"] == "platform_unavailable"
    assert supervisor.writes == []
