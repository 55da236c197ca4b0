"""A database outage longer than a run lease is not the runs' failure: when the database
is back, live workers get one lease's time to heartbeat before their runs count as lost,
and a worker that really died meanwhile is recovered after that grace."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.retry import Retry
from outlast.engine import Engine
from outlast.engine.attempts import Decision
from outlast.upkeep.leader import Upkeep
from tests.integration.support import outcome, status_of

ENV = "dev"


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, TaskDefinition(id="job", queue="job", retry=Retry(max_attempts=1)))


@contextmanager
def database_down(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every transaction fails the way the store's driver fails when the server is gone."""
    def refused(*args: Any, **kwargs: Any) -> Any:
        if engine.store.dialect == "sqlite":
            raise sqlite3.OperationalError("unable to open database file")
        raise psycopg.OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(engine.store, "transaction", refused)
        yield


def outage_past_the_lease(engine: Engine, clock: FakeClock, upkeep: Upkeep,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The holder leads, then the database is gone for longer than a run lease."""
    upkeep.tick()
    assert upkeep.leading
    with database_down(engine, monkeypatch):
        for _ in range(3):
            clock.advance(engine.lease_seconds / 2)
            with pytest.raises(Exception, match="unable to open|connection refused"):
                upkeep.tick()


def test_runs_of_live_workers_are_not_charged_for_an_outage_longer_than_the_lease(
        engine: Engine, clock: FakeClock, trigger: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w1", None, 1)
    upkeep = Upkeep(engine)
    outage_past_the_lease(engine, clock, upkeep, monkeypatch)
    # the database is back: the holder's pass comes before the worker's heartbeat
    upkeep.tick()
    assert upkeep.leading and status_of(engine, run_id) == "EXECUTING"
    clock.advance(1)
    assert engine.heartbeat("w1", [run_id]) == {run_id: row["lease_id"]}
    clock.advance(engine.lease_seconds - 1)  # the grace is over; the lease is fresh
    upkeep.tick()
    assert status_of(engine, run_id) == "EXECUTING"
    assert engine.record([outcome(row, output="ok")]) == [Decision("complete")]
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "COMPLETED" and len(engine.attempts(run_id)) == 1


def test_a_live_worker_whose_lease_lapsed_unclaimed_still_writes_its_result(
        engine: Engine, clock: FakeClock, trigger: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = trigger(engine, "job").row["id"]
    [row] = engine.claim(ENV, "w1", None, 1)
    upkeep = Upkeep(engine)
    outage_past_the_lease(engine, clock, upkeep, monkeypatch)
    upkeep.tick()
    # no heartbeat came in between: the lapsed lease is still the worker's own
    assert engine.record([outcome(row, output="ok")]) == [Decision("complete")]
    assert status_of(engine, run_id) == "COMPLETED"


def test_a_worker_that_died_during_the_outage_is_recovered_after_the_grace(
        engine: Engine, clock: FakeClock, trigger: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w1", None, 1)  # and the worker never heartbeats again
    upkeep = Upkeep(engine)
    outage_past_the_lease(engine, clock, upkeep, monkeypatch)
    upkeep.tick()
    clock.advance(engine.lease_seconds - 1)
    upkeep.tick()
    assert status_of(engine, run_id) == "EXECUTING"  # still within the grace
    clock.advance(1)
    upkeep.tick()
    run = engine.retrieve(ENV, run_id)
    assert run["status"] == "CRASHED" and run["error"]["type"] == "WorkerLost"


def test_without_an_outage_a_lapsed_lease_is_recovered_at_once(
        engine: Engine, clock: FakeClock, trigger: Any) -> None:
    run_id = trigger(engine, "job").row["id"]
    engine.claim(ENV, "w1", None, 1)
    upkeep = Upkeep(engine)
    upkeep.tick()
    clock.advance(engine.lease_seconds + 1)
    upkeep.tick()
    assert status_of(engine, run_id) == "CRASHED"
