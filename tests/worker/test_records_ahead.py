"""Steps recorded without waiting: a child sends a small step result and goes on, and the
supervisor writes it before anything the attempt does after it; what a failed write
means for the attempt (``outlast.worker.records_ahead``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import psycopg
import pytest

from outlast import step, task
from outlast.core.durable_requests import Op, Record, SleepFor
from outlast.engine import Engine, Outcome
from outlast.sdk.durable import RecordAhead
from outlast.sdk.registry import Registry
from outlast.worker.child import PipeTransport
from outlast.worker.executor import run_attempt
from outlast.worker.messages import Assignment, Finished, Recorded, Reply, RuntimeCall
from outlast.worker.records_ahead import RecordsAhead
from tests.worker.support import claimed_runs, counted_transactions


def _job(task_id: str) -> Assignment:
    run = {"id": "run_1", "task_id": task_id, "payload": "null", "tags": "[]",
           "created_at": 0.0, "metadata": "{}", "max_attempts": 1, "queue": task_id,
           "machine": "small-1x"}
    return Assignment(run, "lease_1", 1, None, "dev", journal=[])


def _attempt_over_a_pipe(registry: Registry, limit: int,
                         answer: Callable[[Any], Any] | None) -> tuple[Finished, list[Any]]:
    """Run one attempt of task "t" in this process, its runtime a real pipe whose far
    end answers nothing (``answer`` None) or answers each request with ``answer``."""
    near, far = Pipe()
    pipe = PipeTransport(near, threading.Lock())
    ahead = RecordAhead(pipe.note, limit)
    seen: list[Any] = []
    stop = threading.Event()

    def far_end(conn: Connection) -> None:
        while True:  # until told to stop and nothing is left to read
            if not conn.poll(0.05):
                if stop.is_set():
                    return
                continue
            message = conn.recv()
            seen.append(message)
            if answer is not None and isinstance(message, RuntimeCall):
                conn.send(Reply(message.request_id, True, answer(message.request)))

    reader = threading.Thread(target=far_end, args=(far,), daemon=True)
    reader.start()
    box: dict[str, Finished] = {}
    runner = threading.Thread(target=lambda: box.update(
        done=run_attempt(registry.get("t"), _job("t"), lambda m: None, pipe.runtime, ahead)),
        daemon=True)
    runner.start()
    runner.join(10)
    stop.set()
    reader.join(5)
    assert "done" in box, "the attempt waited for an answer nobody gives"
    return box["done"], seen


def test_an_attempt_goes_on_without_waiting_for_its_steps_records() -> None:
    reg = Registry()

    @task(id="t", registry=reg)
    def three(payload: Any) -> int:
        a = step.run("one", lambda: 1)
        b = step.run("two", lambda: a + 1)
        return step.run("three", lambda: b + 1)

    done, sent = _attempt_over_a_pipe(reg, limit=1 << 20, answer=None)
    assert (done.kind, done.output) == ("completed", 3)
    assert [type(m) for m in sent] == [Recorded] * 3
    assert [(m.request.at.seq, m.request.at.name, m.request.result) for m in sent] == [
        (0, "one", 1), (1, "two", 2), (2, "three", 3)]


def test_a_result_too_large_for_a_note_asks_and_waits() -> None:
    reg = Registry()

    @task(id="t", registry=reg)
    def big(payload: Any) -> int:
        text = step.run("big", lambda: "x" * 100)
        small = step.run("small", lambda: 1)
        return len(text) + small

    done, sent = _attempt_over_a_pipe(reg, limit=40, answer=lambda r: {
        "done": True, "result": r.result})
    assert (done.kind, done.output) == ("completed", 101)
    assert [type(m) for m in sent] == [RuntimeCall, Recorded]


def test_a_result_that_looks_like_a_blob_reference_asks_and_waits() -> None:
    reg = Registry()

    @task(id="t", registry=reg)
    def lookalike(payload: Any) -> Any:
        return step.run("ref", lambda: {"$blob": "a/b", "size": 1})

    done, sent = _attempt_over_a_pipe(reg, limit=1 << 20, answer=lambda r: {
        "done": True, "result": r.result})
    assert done.kind == "completed"
    assert [type(m) for m in sent] == [RuntimeCall]


def test_an_attempt_runs_at_most_a_bounded_number_of_steps_ahead() -> None:
    """After ``AHEAD_MAX`` records without an answer the next one waits: during a database
    outage an attempt runs that many steps ahead of its journal at most."""
    from outlast.sdk.durable import AHEAD_MAX

    reg = Registry()

    @task(id="t", registry=reg)
    def many(payload: Any) -> int:
        return sum(step.run(f"s{i}", lambda i=i: i) for i in range(AHEAD_MAX + 6))

    done, sent = _attempt_over_a_pipe(reg, limit=1 << 20, answer=lambda r: {
        "done": True, "result": r.result})
    assert done.kind == "completed"
    kinds = [type(m) for m in sent]
    assert kinds == [Recorded] * AHEAD_MAX + [RuntimeCall] + [Recorded] * 5


# -- the supervisor's side ------------------------------------------------------------------


def _claimed(engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
             n: int) -> list[Any]:
    return claimed_runs(engine, register, trigger, n)


def _record(row: Any, seq: int, result: Any) -> Record:
    return Record(Op(row["id"], row["lease_id"], seq, "step", f"s{seq}"), result)


def _results(engine: Engine, row: Any) -> list[Any]:
    return [e["result"] for e in engine.durable.journal(row["id"], row["lease_id"])]


def test_records_of_several_attempts_are_written_in_one_transaction(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 3)
    ahead = RecordsAhead(engine)
    for seq in range(2):
        for i, row in enumerate(rows):
            ahead.add(_record(row, seq, i * 10 + seq))
    with counted_transactions(engine) as transactions:
        ahead.write()
    assert len(transactions) == 1 and ahead.items == []
    assert [_results(engine, row) for row in rows] == [[0, 1], [10, 11], [20, 21]]


def test_records_commit_waiting_for_their_flush(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not lazily: a database that crashed after a lazy commit would lose the records the
    worker was told were written, while the attempt's later records and its end, written
    once it was back, survived beside the gap (seen by the fault suite on PostgreSQL)."""
    rows = _claimed(engine, register, trigger, 2)
    lazy: list[bool] = []
    begin = engine.store.transaction

    def watched(*args: Any, **kwargs: Any) -> Any:
        context = begin(*args, **kwargs)
        tx = context.__enter__()
        monkeypatch.setattr(tx, "lazy_commit", lambda: lazy.append(True))
        return _Entered(context, tx)

    monkeypatch.setattr(engine.store, "transaction", watched)
    ahead = RecordsAhead(engine)
    for i, row in enumerate(rows):
        ahead.add(_record(row, 0, i))
    ahead.write()
    monkeypatch.undo()
    assert lazy == [] and [_results(engine, row) for row in rows] == [[0], [1]]


class _Entered:
    """A transaction's context already entered, handed out again as a context."""

    def __init__(self, context: Any, tx: Any) -> None:
        self.context, self.tx = context, tx

    def __enter__(self) -> Any:
        return self.tx

    def __exit__(self, *exc: Any) -> Any:
        return self.context.__exit__(*exc)


def test_a_lost_lease_drops_only_that_attempts_records(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 3)
    engine.cancel("dev", rows[1]["id"])  # the attempt no longer holds its run
    ahead = RecordsAhead(engine)
    for i, row in enumerate(rows):
        ahead.add(_record(row, 0, i))
    with counted_transactions(engine) as transactions:
        ahead.write()
    assert len(transactions) == 1  # the others' records in the same one, not one by one
    assert ahead.items == [] and ahead.failed == {}
    assert _results(engine, rows[0]) == [0] and _results(engine, rows[2]) == [2]


def test_a_record_that_cannot_be_written_stops_its_attempts_journal(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 2)
    engine.durable.record(_record(rows[0], 0, "first").at, "first")  # seq 0 is taken
    ahead = RecordsAhead(engine)
    ahead.add(_record(rows[0], 0, "again"))  # its write fails: not a fault, not a lease
    ahead.add(_record(rows[1], 0, "other"))
    ahead.add(_record(rows[0], 1, "after"))  # dropped: the journal would have a gap
    ahead.write()
    assert _results(engine, rows[0]) == ["first"]
    assert _results(engine, rows[1]) == ["other"]
    ahead.add(_record(rows[0], 2, "later"))  # arrives after: dropped too
    assert ahead.items == []
    wait = SleepFor(Op(rows[0]["id"], rows[0]["lease_id"], 3, "sleep", "nap"), 60)
    refusal = ahead.refusal(wait)
    assert refusal is not None and "'s0' (#0) could not be recorded" in refusal.message
    assert ahead.refusal(SleepFor(Op(rows[1]["id"], rows[1]["lease_id"], 1, "sleep", "n"),
                                  60)) is None
    ahead.ended([Outcome(rows[0]["id"], rows[0]["lease_id"], 1, "failed")])
    assert ahead.refusal(wait) is None


def test_a_database_fault_keeps_the_records_and_writes_each_once(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    rows = _claimed(engine, register, trigger, 2)
    ahead = RecordsAhead(engine)
    for i, row in enumerate(rows):
        ahead.add(_record(row, 0, i))
    real = engine.durable.record_held

    def committed_then_lost(items: Any, **kwargs: Any) -> Any:
        real(items, **kwargs)  # it committed, and then the answer was lost
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    engine.durable.record_held = committed_then_lost  # type: ignore[method-assign]
    with pytest.raises(psycopg.OperationalError):
        ahead.write()
    del engine.durable.record_held
    assert len(ahead.items) == 2 and ahead.unsure
    ahead.add(_record(rows[0], 1, "next"))
    ahead.write()  # looks before writing: no entry twice, no error
    assert ahead.items == [] and not ahead.unsure and ahead.failed == {}
    assert _results(engine, rows[0]) == [0, "next"] and _results(engine, rows[1]) == [1]


# -- a real worker ------------------------------------------------------------------------


@pytest.fixture
def live_engine(store: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def test_a_finished_run_holds_every_step_its_attempt_sent_ahead(live_engine: Engine) -> None:
    """The run's end is written after its records, so a final run's journal is whole the
    moment its status says so."""
    from tests.worker.support import running_worker, trigger, wait_final

    with running_worker(live_engine):
        ids = [trigger(live_engine, "many-steps", 25) for _ in range(8)]
        runs = [wait_final(live_engine, run_id) for run_id in ids]
        journals = [live_engine.durable.run_journal(run_id) for run_id in ids]
    assert {r["status"] for r in runs} == {"COMPLETED"}
    assert [[e["result"] for e in j] for j in journals] == [list(range(25))] * 8


def test_steps_sent_before_the_process_died_are_kept_and_not_run_again(
        live_engine: Engine, tmp_path: Any) -> None:
    from tests.worker.support import running_worker, trigger, wait_final

    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "steps-then-dies"))
    assert (run["status"], run["attempts"]) == ("COMPLETED", 2)
    assert (tmp_path / "steps-then-dies").read_text().splitlines() == ["first 1", "second 1"]
    assert [a["status"] for a in live_engine.attempts(run["id"])] == ["CRASHED", "COMPLETED"]


def test_a_waiting_write_after_a_failed_record_is_refused_even_in_a_batch(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    """The refusal is asked after the flush that met the failure, on both of the ways a
    waiting write is written (alone, and with the pass's other completed steps)."""
    from outlast.worker.child_calls import ChildCalls

    rows = _claimed(engine, register, trigger, 2)
    engine.durable.record(_record(rows[0], 0, "first").at, "first")  # seq 0 is taken
    ahead = RecordsAhead(engine)
    calls = ChildCalls(engine, "dev", ahead.write, ahead)
    ahead.add(_record(rows[0], 0, "again"))  # fails when the calls flush
    asked = [RuntimeCall(1, _record(rows[0], 1, "big")), RuntimeCall(2, _record(rows[1], 0, 9))]
    assert calls.run_records(asked) is None  # not together: one of them is refused
    replies = [calls.run_op(m) for m in asked]
    assert [r.ok for r in replies] == [False, True]
    assert "could not be recorded" in replies[0].error["message"]  # type: ignore[index]
    assert _results(engine, rows[0]) == ["first"] and _results(engine, rows[1]) == [9]
