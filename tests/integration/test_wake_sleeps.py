"""Due sleeps are woken together: the run queued again, the journal given its result, in
a few statements however many came due (on both stores)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from outlast.engine import Engine, Outcome, sweeper, waitpoints
from outlast.engine.durable import Op
from outlast.engine.events import CHANGED_CHANNEL, QUEUED_CHANNEL
from tests.conftest import trigger_run

ENV = "dev"


class CountingTx:
    """A transaction that counts the statements it was asked to answer."""

    def __init__(self, tx: Any, counter: list[str]) -> None:
        self._tx, self._counter = tx, counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tx, name)
        if name not in ("one", "all", "run", "many"):
            return attr

        def counted(query: str, /, *args: Any, **params: Any) -> Any:
            self._counter.append(query)
            return attr(query, *args, **params)

        return counted


@pytest.fixture
def statements(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    counter: list[str] = []
    opened = engine.store.transaction

    @contextmanager
    def transaction(write: bool = True) -> Iterator[Any]:
        with opened(write) as tx:
            yield CountingTx(tx, counter)

    monkeypatch.setattr(engine.store, "transaction", transaction)
    return counter


def _sleeping(engine: Engine, clock: Any, n: int, seconds: float = 60) -> list[str]:
    """``n`` runs suspended on a sleep of ``seconds``."""
    for _ in range(n):
        trigger_run(engine, "job")
    rows = engine.claim(ENV, "w", None, n)
    for row in rows:
        engine.durable.sleep_until(Op(row["id"], row["lease_id"], 0, "sleep", "nap"),
                                   clock.now() + seconds)
    engine.record([Outcome(r["id"], r["lease_id"], 1, "suspended") for r in rows])
    return [r["id"] for r in rows]


def test_each_woken_sleep_is_queued_with_its_result(engine: Engine, clock: Any,
                                                    register: Callable[..., Any]) -> None:
    register(engine, "job")
    ids = _sleeping(engine, clock, 3)
    due = clock.now() + 60
    clock.advance(61)
    assert engine.sweep().woken == 3
    for run_id in ids:
        assert engine.retrieve(ENV, run_id)["status"] == "QUEUED"
        [entry] = engine.durable.run_journal(run_id)
        assert (entry["status"], entry["result"]) == ("ok", {"until": due})
        assert [e["kind"] for e in engine.events(run_id)][-1] == "resume"
    assert {r["id"] for r in engine.claim(ENV, "w", None, 5)} == set(ids)


def test_waking_many_sleeps_costs_no_statements_per_sleep(
        engine: Engine, clock: Any, register: Callable[..., Any],
        statements: list[str]) -> None:
    register(engine, "job")
    _sleeping(engine, clock, 2, seconds=60)
    _sleeping(engine, clock, 20, seconds=120)
    clock.advance(61)
    statements.clear()
    assert engine.sweep().woken == 2
    few = len(statements)
    clock.advance(60)
    statements.clear()
    assert engine.sweep().woken == 20
    assert len(statements) == few


def test_a_sleep_due_before_its_suspension_is_recorded_still_resumes(
        engine: Engine, clock: Any, register: Callable[..., Any]) -> None:
    """The attempt wrote its sleep, then took longer than the sleep to end."""
    register(engine, "job")
    trigger_run(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    engine.durable.sleep_until(Op(row["id"], row["lease_id"], 0, "sleep", "nap"),
                               clock.now() + 6)
    clock.advance(7)
    assert engine.sweep().woken == 1
    assert engine.retrieve(ENV, row["id"])["status"] == "EXECUTING"
    engine.record([Outcome(row["id"], row["lease_id"], 1, "suspended")])
    assert engine.retrieve(ENV, row["id"])["status"] == "QUEUED"


def test_a_token_timeout_and_a_sleep_due_in_one_pass(
        engine: Engine, clock: Any, register: Callable[..., Any]) -> None:
    register(engine, "job")
    [sleeper] = _sleeping(engine, clock, 1, seconds=30)
    trigger_run(engine, "job")
    [row] = engine.claim(ENV, "w", None, 1)
    op = Op(row["id"], row["lease_id"], 0, "token", "t")
    token = engine.durable.create_token(op, 20.0, [], None)
    wait = Op(row["id"], row["lease_id"], 1, "wait", "token")
    assert engine.durable.wait_for_token(wait, token["result"]["id"]) == {"done": False}
    engine.record([Outcome(row["id"], row["lease_id"], 1, "suspended")])
    clock.advance(31)
    assert engine.sweep().woken == 2
    assert engine.retrieve(ENV, sleeper)["status"] == "QUEUED"
    assert engine.retrieve(ENV, row["id"])["status"] == "QUEUED"
    assert engine.durable.run_journal(row["id"])[1]["result"]["error"]["type"] == "Timeout"


def test_a_due_time_waitpoint_of_no_run_completes(engine: Engine, clock: Any) -> None:
    now = clock.now()
    with engine.store.transaction() as tx:
        row = waitpoints.create(tx, environment=ENV, kind=waitpoints.TIME, now=now,
                                due_at=now + 1)
    clock.advance(2)
    assert engine.sweep().woken == 1
    with engine.store.transaction() as tx:
        assert waitpoints.get(tx, row["id"])["status"] == waitpoints.COMPLETED


def test_a_sleep_due_while_the_pass_waited_to_begin_is_woken_by_it(
        engine: Engine, clock: Any, register: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite a writing transaction begins once other writers are done (a big trigger,
    say): a sleep that fell due meanwhile is woken by this pass, not the next one."""
    register(engine, "job")
    [run_id] = _sleeping(engine, clock, 1, seconds=10)
    clock.advance(9.9)
    opened = engine.store.transaction

    @contextmanager
    def transaction(write: bool = True) -> Iterator[Any]:
        clock.advance(0.2)  # the wait for the database
        with opened(write) as tx:
            yield tx

    monkeypatch.setattr(engine.store, "transaction", transaction)
    assert engine.sweep().woken == 1
    assert engine.retrieve(ENV, run_id)["status"] == "QUEUED"


def test_a_sleep_due_while_the_pass_did_its_other_duties_is_woken_by_it(
        engine: Engine, clock: Any, register: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Waits are woken last in the pass, with the time read again: a sleep that fell due
    while the pass promoted delayed runs and recovered lost ones is woken by this pass,
    and its resume is as close to the commit as it can be."""
    register(engine, "job")
    [run_id] = _sleeping(engine, clock, 1, seconds=10)
    clock.advance(9.9)
    enqueue_due = sweeper.enqueue_due

    def slow_enqueue_due(tx: Any, now: float) -> int:
        clock.advance(0.2)  # many delayed runs fell due too
        return enqueue_due(tx, now)

    monkeypatch.setattr(sweeper, "enqueue_due", slow_enqueue_due)
    assert engine.sweep().woken == 1
    assert engine.retrieve(ENV, run_id)["status"] == "QUEUED"


def test_a_wake_tells_workers_once_per_queue_and_realtime_of_each_run(
        engine: Engine, clock: Any, register: Callable[..., Any]) -> None:
    """Workers claim by queue and read no run id from the note; each note costs the
    commit on PostgreSQL, so 500 woken runs of one queue make one note, not 500."""
    register(engine, "job")
    for queue in ("a", "a", "a", "b", "b"):
        trigger_run(engine, "job", queue=queue)
    rows = engine.claim(ENV, "w", None, 5)
    for row in rows:
        engine.durable.sleep_until(Op(row["id"], row["lease_id"], 0, "sleep", "nap"),
                                   clock.now() + 60)
    engine.record([Outcome(r["id"], r["lease_id"], 1, "suspended") for r in rows])
    heard: list[tuple[str, str]] = []
    engine.store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    clock.advance(61)
    assert engine.sweep().woken == 5
    assert sorted(p for c, p in heard if c == QUEUED_CHANNEL) == ["a", "b"]
    assert sorted(p for c, p in heard if c == CHANGED_CHANNEL) == sorted(r["id"] for r in rows)
