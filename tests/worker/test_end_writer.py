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
from pathlib import Path
from typing import Any

import pytest

from outlast.core.durable_requests import Op, Record
from outlast.engine import Engine, Outcome
from outlast.errors import PlatformUnavailableError
from outlast.worker import end_writer
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


def _failing_once(error: BaseException,
                  write: Callable[[list[Outcome]], object] | None = None
                  ) -> Callable[[list[Outcome]], object]:
    """A write that raises ``error`` the first time, then writes with ``write``."""
    failing = [error]

    def once(batch: list[Outcome]) -> object:
        if failing:
            raise failing.pop()
        return write(batch) if write is not None else None

    return once


def _apart_only(engine: Engine) -> None:
    if engine.store.serial_writes:
        pytest.skip("SQLite: the ends are in the pass's transaction")


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
    assert (writer.handed, writer.written_count, writer.behind) == (4, 0, 4)
    gate.open.set()
    assert writer.flush(PATIENCE)
    assert gate.batches == [["a"], ["b", "c", "d"]]
    assert gate.threads == ["outlast-worker-ends"] * 2
    assert writer.written() == (True, [])
    assert writer.written() == (False, [])
    assert (writer.written_count, writer.behind, len(woken)) == (4, 0, 2)
    writer.close(PATIENCE)


def test_flush_waits_for_every_end_handed_in(gate: _Gate) -> None:
    writer = EndWriter(gate, lambda: None)
    writer.submit([_end("a")])
    assert gate.entered.wait(PATIENCE)
    assert not writer.flush(0.05)  # still inside the write
    assert writer.wait_written(0, 0.0)
    gate.open.set()
    assert writer.flush(PATIENCE)
    writer.close(PATIENCE)


def test_a_failed_batch_stays_first_and_is_tried_again_with_what_came_since(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ends keep their places in the count a write waits on: a batch that failed is not
    handed in again behind later ones."""
    monkeypatch.setattr(end_writer, "RETRY_AFTER", 0.05)
    away = PlatformUnavailableError("the database is away")
    batches: list[list[str]] = []
    fail_once = _failing_once(away)

    def write(batch: list[Outcome]) -> object:
        batches.append([o.run_id for o in batch])
        return fail_once(batch)

    writer = EndWriter(write, lambda: None)
    writer.submit([_end("a"), _end("b")])
    assert not writer.flush(PATIENCE)  # a fault, not a timeout
    assert writer.written() == (False, [away])
    assert (writer.written_count, writer.behind) == (0, 2)
    writer.submit([_end("c")])
    assert writer.flush(PATIENCE)
    assert batches[0] == ["a", "b"] and batches[-1][:2] == ["a", "b"]
    assert sum(batches[1:], []) == ["a", "b", "c"]
    assert writer.written() == (True, []) and writer.written_count == 3
    writer.close(PATIENCE)


def test_close_tries_a_failed_batch_once_more_then_gives_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(end_writer, "RETRY_AFTER", 60.0)  # only the close retries soon
    calls: list[int] = []

    def write(batch: list[Outcome]) -> None:
        calls.append(len(batch))
        raise PlatformUnavailableError("the database is away")

    woken: list[bool] = []
    writer = EndWriter(write, lambda: woken.append(True))
    writer.submit([_end("a")])
    assert not writer.flush(PATIENCE)
    started = time.monotonic()
    writer.close(PATIENCE)
    assert time.monotonic() - started < PATIENCE / 2
    assert calls == [1, 1] and writer.behind == 1
    with pytest.raises(RuntimeError):
        writer.submit([_end("b")])
    count = len(woken)
    writer._wake()  # nothing is woken once closed
    assert len(woken) == count


def test_close_writes_what_waits(gate: _Gate) -> None:
    writer = EndWriter(gate, lambda: None)
    writer.submit([_end("a")])
    assert gate.entered.wait(PATIENCE)
    writer.submit([_end("b")])
    gate.open.set()
    writer.close(PATIENCE)
    assert gate.batches == [["a"], ["b"]] and writer.written_count == 2


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
        assert writer.written() == (True, [])
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
    _apart_only(supervisor.engine)
    assert supervisor.ends is not None
    return supervisor.ends


def test_ends_that_fail_are_tried_again_by_the_writer(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _writer_only(supervisor)
    monkeypatch.setattr(end_writer, "RETRY_AFTER", 0.05)
    [row] = claimed_runs(engine, register, trigger, 1)
    monkeypatch.setattr(engine, "record", _failing_once(
        PlatformUnavailableError("the database is away"), engine.record))
    supervisor.pending.outcomes = [_completed(row)]
    with pytest.raises(PlatformUnavailableError):
        supervisor._flush()  # the flush meets the writer's fault
    assert supervisor.pending.outcomes == [] and writer.behind == 1  # kept, first in line
    assert _status(engine, row["id"]) == "EXECUTING"
    assert writer.flush(PATIENCE)
    assert _status(engine, row["id"]) == "COMPLETED"


def test_a_fault_the_writer_meets_makes_the_loop_back_off(
        supervisor: Supervisor, engine: Engine, register: Callable[..., Any],
        trigger: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _writer_only(supervisor)
    monkeypatch.setattr(end_writer, "RETRY_AFTER", 60.0)
    [row] = claimed_runs(engine, register, trigger, 1)

    def away(outcomes: list[Outcome]) -> None:
        raise PlatformUnavailableError("the database is away")

    monkeypatch.setattr(engine, "record", away)
    writer.submit([_completed(row)])
    assert not writer.flush(PATIENCE)
    assert supervisor._backoff_until == 0.0
    supervisor._tick()  # the writer's wake-up brings the loop round at once
    assert supervisor._backoff_until > time.monotonic()
    assert writer.written() == (False, [])  # taken by the loop


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


def _stopping_supervisor(engine: Engine) -> Supervisor:
    """A supervisor of its own, which the test stops (the fixture's stops at teardown)."""
    return Supervisor(engine, environment="dev", task_dirs=[], root=Path("."),
                      concurrency=1, sweep=False)


def test_a_stopping_worker_writes_the_ends_its_writer_holds(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _apart_only(engine)
    rows = claimed_runs(engine, register, trigger, 3)
    sup = _stopping_supervisor(engine)
    assert sup.ends is not None
    gate = _Gate(engine.record)
    monkeypatch.setattr(sup.ends, "_write", gate)
    sup.ends.submit([_completed(rows[0])])
    assert gate.entered.wait(PATIENCE)
    sup.pending.outcomes = [_completed(row) for row in rows[1:]]  # not handed in yet
    threading.Timer(0.1, gate.open.set).start()
    sup._shutdown()
    assert [_status(engine, row["id"]) for row in rows] == ["COMPLETED"] * 3


def test_a_stopping_worker_tries_a_failed_batch_once_more_at_once(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The last batch met a fault (the database restarting as the worker stops): the stop
    does not wait out ``RETRY_AFTER``, nor give the ends up untried."""
    _apart_only(engine)
    monkeypatch.setattr(end_writer, "RETRY_AFTER", 60.0)
    [row] = claimed_runs(engine, register, trigger, 1)
    sup = _stopping_supervisor(engine)
    assert sup.ends is not None
    monkeypatch.setattr(sup.ends, "_write", _failing_once(
        PlatformUnavailableError("the database is restarting"), engine.record))
    sup.ends.submit([_completed(row)])
    assert not sup.ends.flush(PATIENCE)  # the fault, not yet taken by the loop
    started = time.monotonic()
    sup._shutdown()
    assert time.monotonic() - started < PATIENCE / 2
    assert _status(engine, row["id"]) == "COMPLETED"
