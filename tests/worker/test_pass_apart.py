"""A worker's pass writes its ends beside its claim where the database takes two writers
(``outlast.worker.db_pass``): on PostgreSQL the ends go on a second connection while the
claim runs; on SQLite the pass stays one transaction. When one part fails the other's
result holds: ends not written go back to the worker's pending outcomes, claimed runs are
handed out all the same, and the error still reaches the loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from outlast.engine import Engine, Outcome
from outlast.engine.dequeue import Claimed
from outlast.errors import PlatformUnavailableError
from outlast.worker.db_pass import PassAnswer, Passes
from outlast.worker.supervisor import Supervisor
from tests.worker.support import claimed_runs


def _completed(row: dict[str, Any]) -> Outcome:
    return Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed", 0.0)


def _ready(engine: Engine, register: Callable[..., Any],
           trigger: Callable[..., Any]) -> list[Outcome]:
    """One claimed run ending now, and two more queued for the pass to claim."""
    [row] = claimed_runs(engine, register, trigger, 1)
    trigger(engine, "job")
    trigger(engine, "job")
    return [_completed(row)]


def _status(engine: Engine, outcome: Outcome) -> str:
    return str(engine.retrieve("dev", outcome.run_id)["status"])


def _apart_only(engine: Engine) -> None:
    if engine.store.serial_writes:
        pytest.skip("SQLite takes one writer at a time: its pass is one transaction")


def _one_pass(engine: Engine, ends: list[Outcome]) -> PassAnswer:
    """One pass recording ``ends`` and claiming up to two runs, as a worker's turn runs it."""
    passes = Passes(engine)
    try:
        return passes.work((ends, "dev", "worker-1", None, 2, None))()
    finally:
        passes.close()


def _away(monkeypatch: pytest.MonkeyPatch, engine: Engine, method: str) -> Exception:
    """The database's fault that ``engine.<method>`` now meets."""
    away = PlatformUnavailableError("the database is away")

    def fail(*args: Any) -> Any:
        raise away

    monkeypatch.setattr(engine, method, fail)
    return away


def test_ends_are_written_beside_the_claim_where_the_store_allows(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ends = _ready(engine, register, trigger)
    threads: list[str] = []
    record = engine.record
    monkeypatch.setattr(engine, "record", lambda outcomes: threads.append(
        threading.current_thread().name) or record(outcomes))
    answer = _one_pass(engine, ends)
    assert answer.recorded and answer.error is None
    assert answer.claimed is not None and len(answer.claimed.rows) == 2
    assert _status(engine, ends[0]) == "COMPLETED"
    if engine.store.serial_writes:
        assert (answer.apart, threads) == (False, [])
    else:
        assert answer.apart and len(threads) == 1
        assert threads[0].startswith("outlast-worker-record")


def test_ends_that_fail_beside_a_claim_leave_the_claim_standing(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _apart_only(engine)
    ends = _ready(engine, register, trigger)
    away = _away(monkeypatch, engine, "record")
    answer = _one_pass(engine, ends)
    assert (answer.recorded, answer.error) == (False, away)
    assert answer.claimed is not None and len(answer.claimed.rows) == 2
    assert _status(engine, ends[0]) == "EXECUTING"  # to be written again


def test_a_claim_that_fails_beside_ends_leaves_them_written(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _apart_only(engine)
    ends = _ready(engine, register, trigger)
    away = _away(monkeypatch, engine, "record_and_claim")
    answer = _one_pass(engine, ends)
    assert (answer.recorded, answer.claimed, answer.error) == (True, None, away)
    assert _status(engine, ends[0]) == "COMPLETED"


def _turn_answered(supervisor: Supervisor, answer: PassAnswer, ends: list[Outcome],
                   wanted: int) -> None:
    supervisor.turn_outcomes, supervisor.turn_claim = ends, wanted
    supervisor.turn.run_here(lambda: answer)


def test_the_worker_hands_out_a_claim_whose_ends_failed_and_keeps_the_ends(
        supervisor: Supervisor, engine: Engine, trigger: Callable[..., Any]) -> None:
    [ending, claimed] = claimed_runs(engine, lambda *a: None, trigger, 2)
    ends = [_completed(ending)]
    away = PlatformUnavailableError("the database is away")
    _turn_answered(supervisor, PassAnswer(False, Claimed([claimed]), away, apart=True), ends, 1)
    with pytest.raises(PlatformUnavailableError):
        supervisor._end_turn()
    assert supervisor.pending.outcomes == ends
    assert [row["id"] for row in supervisor.ahead.buffer] == [claimed["id"]]


def test_after_ends_written_beside_a_claim_the_worker_claims_again_at_once(
        supervisor: Supervisor) -> None:
    """The claim did not count the runs that ended beside it: a queue with a concurrency
    limit may have more room now than it found."""
    _turn_answered(supervisor, PassAnswer(True, Claimed([]), apart=True), [], 4)
    supervisor._more_work = False
    supervisor._end_turn()
    assert supervisor._more_work
    _turn_answered(supervisor, PassAnswer(True, Claimed([])), [], 4)  # one transaction
    supervisor._end_turn()
    assert not supervisor._more_work
