"""What ended is written beside the passes (``outlast.worker.end_writer``): on PostgreSQL
the worker's end writer records ends on a connection of its own while passes claim, all
that waits in one transaction; a claim never waits for the ends' commit. A batch that
fails goes back to the worker's pending outcomes and the loop backs off; ends written
make the worker claim again (their places in limited queues are free). On SQLite a pass
stays one transaction and no writer is made."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from outlast.core.durable_requests import Op, Record
from outlast.engine import Engine, Outcome
from outlast.errors import PlatformUnavailableError
from outlast.worker import supervisor as supervisor_module
from outlast.worker.db_pass import pass_work
from outlast.worker.end_writer import EndWriter
from outlast.worker.messages import RuntimeCall
from outlast.worker.supervisor import Supervisor
from tests.worker.support import FakeChild, claimed_runs

PATIENCE = 10.0


def _end(run_id: str) -> Outcome:
    return Outcome(run_id, "lease", 1, "completed", 0.0)


def _completed(row: dict[str, Any]) -> Outcome:
    return Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed", 0.0)


def _step(request_id: int, row: dict[str, Any]) -> RuntimeCall:
    return RuntimeCall(request_id, Record(Op(row["id"], row["lease_id"], 0, "step", "s"), 1))


class _Gate:
    """A write that records its batches and, while closed, waits inside the call."""

    def __init__(self, write: Callable[[list[Outcome]], object] | None = None) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()
        self.batches: list[list[str]] = []
        self.threads: list[str] = []
        self._write = write

    def __call__(self, batch: list[Outcome]) -> object:
        self.batches.append([o.run_id for o in batch])
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.open.wait(PATIENCE)
        return self._write(batch) if self._write is not None else None


@pytest.fixture
def woken() -> list[bool]:
    return []


@pytest.fixture
def gate() -> Iterator[_Gate]:
    gate = _Gate()
    yield gate
    gate.open.set()


def test_ends_that_arrive_during_a_write_go_in_the_next_one_together(
        gate: _Gate, woken: list[bool]) -> None:
    writer = EndWriter(gate, lambda: woken.append(True))
    writer.submit([_end("a")])
    assert gate.entered.wait(PATIENCE)
    writer.submit([_end("b")])
    writer.submit([_end("c"), _end("d")])
    assert writer.behind == 4
    assert [o.run_id for o in writer.ending()] == ["a", "b", "c", "d"]
    gate.open.set()
    assert writer.flush(PATIENCE)
    assert gate.batches == [["a"], ["b", "c", "d"]]
    assert gate.threads == ["outlast-worker-ends"] * 2
    assert [([o.run_id for o in batch], error) for batch, error in writer.written()] == \
        [(["a"], None), (["b", "c", "d"], None)]
    assert writer.written() == [] and writer.behind == 0 and len(woken) == 2
    writer.close(PATIENCE)


def test_flush_waits_for_every_end_handed_in(gate: _Gate) -> None:
    writer = EndWriter(gate, lambda: None)
    writer.submit([_end("a")])
    assert gate.entered.wait(PATIENCE)
    assert not writer.flush(0.05)  # still inside the write
    gate.open.set()
    assert writer.flush(PATIENCE)
    writer.close(PATIENCE)


def test_a_failed_write_hands_its_batch_back_with_the_error() -> None:
    away = PlatformUnavailableError("the database is away")
    calls: list[int] = []

    def write(batch: list[Outcome]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise away

    writer = EndWriter(write, lambda: None)
    writer.submit([_end("a"), _end("b")])
    assert writer.flush(PATIENCE)
    writer.submit([_end("c")])
    assert writer.flush(PATIENCE)
    answers = writer.written()
    assert [([o.run_id for o in b], e) for b, e in answers] == [(["a", "b"], away),
                                                                 (["c"], None)]
    writer.close(PATIENCE)


def test_close_writes_what_waits_then_refuses_more(gate: _Gate) -> None:
    writer = EndWriter(gate, lambda: None)
    writer.submit([_end("a")])
    assert gate.entered.wait(PATIENCE)
    writer.submit([_end("b")])
    gate.open.set()
    writer.close(PATIENCE)
    assert gate.batches == [["a"], ["b"]]
    with pytest.raises(RuntimeError):
        writer.submit([_end("c")])


# -- on a store ----------------------------------------------------------------------


def _status(engine: Engine, run_id: str) -> str:
    return str(engine.retrieve("dev", run_id)["status"])


def test_a_claim_goes_on_while_ends_are_inside_their_transaction(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's transaction holds the ended runs' rows; a claim beside it locks only
    queued runs, so it neither waits for the ends' commit nor sees them."""
    if engine.store.serial_writes:
        pytest.skip("SQLite takes one writer at a time: a pass records and claims at once")
    [row] = claimed_runs(engine, register, trigger, 1)
    trigger(engine, "job")
    trigger(engine, "job")
    gate = _Gate()
    record_in = engine._record_in

    def held_open(tx: Any, outcomes: list[Outcome], now: float) -> Any:
        decided = record_in(tx, outcomes, now)  # rows updated, not yet committed
        gate(outcomes)
        return decided

    monkeypatch.setattr(engine, "_record_in", held_open)
    writer = EndWriter(engine.record, lambda: None)
    try:
        writer.submit([_completed(row)])
        assert gate.entered.wait(PATIENCE)
        answer = pass_work(engine, ([], "dev", "worker-1", None, 2, None))()
        assert len(answer.claimed.rows) == 2
        assert _status(engine, row["id"]) == "EXECUTING"  # its end not committed yet
        gate.open.set()
        assert writer.flush(PATIENCE)
        assert [error for _, error in writer.written()] == [None]
        assert _status(engine, row["id"]) == "COMPLETED"
    finally:
        gate.open.set()
        writer.close(PATIENCE)


def test_a_pass_on_sqlite_records_and_claims_in_one_transaction(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any]) -> None:
    if not engine.store.serial_writes:
        assert supervisor.ends is not None
        pytest.skip("PostgreSQL writes ends beside the passes")
    assert supervisor.ends is None
    [row] = claimed_runs(engine, register, trigger, 1)
    trigger(engine, "job")
    answer = pass_work(engine, ([_completed(row)], "dev", "worker-1", None, 1, None))()
    assert len(answer.claimed.rows) == 1
    assert _status(engine, row["id"]) == "COMPLETED"


def _writer_only(supervisor: Supervisor) -> EndWriter:
    if supervisor.ends is None:
        pytest.skip("SQLite: the ends are in the pass's transaction")
    return supervisor.ends


def test_ends_that_fail_go_back_to_pending_and_the_loop_backs_off(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _writer_only(supervisor)
    [row] = claimed_runs(engine, register, trigger, 1)
    away = PlatformUnavailableError("the database is away")

    def fail(outcomes: list[Outcome]) -> None:
        raise away

    monkeypatch.setattr(writer, "_write", fail)
    ends = [_completed(row)]
    supervisor.pending.outcomes = list(ends)
    with pytest.raises(PlatformUnavailableError):
        supervisor._flush()
    assert supervisor.pending.outcomes == ends  # handed in again after the back-off
    assert _status(engine, row["id"]) == "EXECUTING"
    monkeypatch.setattr(writer, "_write", engine.record)
    supervisor._flush()
    assert supervisor.pending.outcomes == []
    assert _status(engine, row["id"]) == "COMPLETED"


def test_ends_written_make_the_worker_claim_again(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any]) -> None:
    """A claim in flight did not count the runs whose ends were written beside it: a queue
    with a concurrency limit may have more room now than it found."""
    writer = _writer_only(supervisor)
    [row] = claimed_runs(engine, register, trigger, 1)
    writer.submit([_completed(row)])
    assert writer.flush(PATIENCE)
    supervisor._more_work = False
    supervisor._take_written()
    assert supervisor._more_work
    supervisor._more_work = False
    supervisor._take_written()  # nothing new written
    assert not supervisor._more_work


def test_the_worker_claims_nothing_while_ends_pile_up(
        supervisor: Supervisor, gate: _Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _writer_only(supervisor)
    supervisor.version.code = object()  # type: ignore[assignment]  # registered
    monkeypatch.setattr(supervisor.ahead, "wanted", lambda children: 3)
    monkeypatch.setattr(writer, "_write", gate)
    monkeypatch.setattr(supervisor_module, "MAX_BEHIND", 1)
    assert supervisor._wanted() == 3
    writer.submit([_end("a"), _end("b")])
    assert gate.entered.wait(PATIENCE)
    assert supervisor._wanted() == 0
    gate.open.set()
    assert writer.flush(PATIENCE)
    assert supervisor._wanted() == 3
    writer.written()


def test_a_held_heartbeat_covers_ends_not_yet_written(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any], gate: _Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the loop waits for a child, a side thread keeps the leases: those of runs
    whose ends wait in the writer are still the worker's to keep."""
    writer = _writer_only(supervisor)
    [row] = claimed_runs(engine, register, trigger, 1)
    beaten: list[list[str]] = []
    monkeypatch.setattr(supervisor.heartbeats, "beat", beaten.append)
    monkeypatch.setattr(writer, "_write", gate)
    writer.submit([_completed(row)])
    assert gate.entered.wait(PATIENCE)
    supervisor._held_heartbeat()()
    assert beaten == [[row["id"]]]
    gate.open.set()
    assert writer.flush(PATIENCE)
    writer.written()


def test_a_write_waits_for_the_ends_before_it_without_holding_the_loop(
        supervisor: Supervisor, engine: Engine, trigger: Callable[..., Any],
        gate: _Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's write that arrived after a run's end is answered once that end is
    written; until then the loop goes on (it reads and feeds children meanwhile)."""
    writer = _writer_only(supervisor)
    ended, running = claimed_runs(engine, lambda *a: None, trigger, 2)
    record = engine.record
    monkeypatch.setattr(writer, "_write", _Gate(record))
    gated: _Gate = writer._write  # type: ignore[assignment]
    child = FakeChild()
    supervisor.pending.outcomes.append(_completed(ended))
    supervisor._handle(child, _step(1, running))  # type: ignore[arg-type]
    started = time.monotonic()
    supervisor._database_work()
    assert gated.entered.wait(PATIENCE)
    supervisor._database_work()
    assert time.monotonic() - started < PATIENCE / 2  # the loop did not wait for the end
    assert child.sent == [] and len(supervisor.writes) == 1
    assert _status(engine, ended["id"]) == "EXECUTING"
    gated.open.set()
    assert writer.flush(PATIENCE)
    supervisor._database_work()
    [reply] = child.sent
    assert reply.ok and supervisor.writes == []  # type: ignore[attr-defined]
    assert _status(engine, ended["id"]) == "COMPLETED"
