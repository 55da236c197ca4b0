"""Steps recorded without waiting keep the journal's order on the paths that are easy to
miss: a stale attempt's late record beside its run's new attempt, a fault after a write
that committed, a write batched with others, and a task's SDK call after its steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from outlast.core.durable_requests import Op, Record
from outlast.engine import Engine, Outcome
from outlast.errors import InvalidTransitionError
from outlast.sdk import calls
from outlast.worker.messages import ApiCall, Recorded, Reply, RuntimeCall
from outlast.worker.records_ahead import RecordsAhead
from outlast.worker.supervisor import Supervisor
from tests.worker.support import FakeChild, claimed_runs


def _claimed(engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
             n: int) -> list[Any]:
    return claimed_runs(engine, register, trigger, n)


def _record(row: Any, seq: int, result: Any) -> Record:
    return Record(Op(row["id"], row["lease_id"], seq, "step", f"s{seq}"), result)


def _results(engine: Engine, run_id: str) -> list[Any]:
    return [(e["seq"], e["result"]) for e in engine.durable.run_journal(run_id)]


def test_a_stale_attempts_record_is_refused_beside_its_runs_new_attempt(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    """``hold_leases`` keys its check by run id: two attempts of one run in a batch (a
    stale one's late record and the new one's) check only the last lease, so the stale
    attempt's entry is written. ``record`` alone refuses it."""
    [old] = _claimed(engine, register, trigger, 1)
    engine.record([Outcome(old["id"], old["lease_id"], old["attempt_count"], "released")])
    [new] = engine.claim("dev", "worker-1", None, 1)
    assert new["id"] == old["id"] and new["lease_id"] != old["lease_id"]
    with pytest.raises(InvalidTransitionError):
        engine.durable.record(_record(old, 5, "stale").at, "stale")
    with pytest.raises(InvalidTransitionError):
        engine.durable.record_many([(_record(old, 5, "stale").at, "stale", None),
                                    (_record(new, 0, "fresh").at, "fresh", None)])
    assert _results(engine, new["id"]) == []


def test_a_fault_after_a_one_by_one_commit_is_looked_for_before_writing_again(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch rolled back (one of its records cannot be written) goes one by one; a fault
    that meets one of those writes after it committed must make the next pass look for
    the entry first, or it writes the record again, meets its own entry and fails the
    attempt's journal."""
    gone, row = _claimed(engine, register, trigger, 2)
    engine.durable.record(_record(gone, 0, "taken").at, "taken")  # its seq 0 is taken
    ahead = RecordsAhead(engine)
    ahead.add(_record(gone, 0, "x"))
    ahead.add(_record(row, 0, "a"))
    ahead.add(_record(row, 1, "b"))
    real = engine.durable.record
    lost = {"once": True}

    def committed_then_lost(at: Op, result: Any, elapsed: Any = None) -> Any:
        answer = real(at, result, elapsed)
        if at.run_id == row["id"] and lost.pop("once", False):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return answer

    monkeypatch.setattr(engine.durable, "record", committed_then_lost)
    with pytest.raises(psycopg.OperationalError):
        ahead.write()
    ahead.write()  # the database is back
    assert set(ahead.failed) == {(gone["id"], gone["lease_id"])}  # only the one that failed
    assert _results(engine, row["id"]) == [(0, "a"), (1, "b")]


def test_a_write_batched_with_others_is_refused_after_its_attempts_record_failed(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any]) -> None:
    """After an attempt's record ahead failed, its later journal writes are refused
    (``_refused``), but a completed operation asked for (a key, a large step) that shares
    ``run_records`` with another attempt's is written: the journal gets a gap."""
    for _ in range(2):
        trigger(engine, "job")
    row, other = engine.claim("dev", "worker-1", None, 2)
    engine.durable.record(_record(row, 0, "taken").at, "taken")  # seq 0 is taken
    child = FakeChild()
    supervisor._handle(child, Recorded(_record(row, 0, "again")))  # type: ignore[arg-type]
    supervisor._handle(child, Recorded(_record(row, 1, "lost")))  # type: ignore[arg-type]
    supervisor._handle(child, RuntimeCall(1, _record(row, 2, "big")))  # type: ignore[arg-type]
    supervisor._handle(FakeChild(), RuntimeCall(1, _record(other, 0, "o")))  # type: ignore[arg-type]
    supervisor._database_work()
    [reply] = child.sent
    assert isinstance(reply, Reply) and not reply.ok, "seq 2 written after seq 1 was lost"
    assert _results(engine, row["id"]) == [(0, "taken")]


def test_an_api_call_waits_for_the_records_sent_before_it(
        engine: Engine, supervisor: Supervisor, trigger: Callable[..., Any]) -> None:
    """A task's SDK call (here a trigger) is answered at once in ``_handle``: the run it
    creates commits while the step recorded just before it is still in memory. A crash
    then loses the step, the next attempt runs it again (another result) and triggers
    again: what the trigger was made from is gone."""
    trigger(engine, "job")
    [row] = engine.claim("dev", "worker-1", None, 1)
    child = FakeChild()
    supervisor._handle(child, Recorded(_record(row, 0, "order-1")))  # type: ignore[arg-type]
    supervisor._handle(child, ApiCall(1, calls.trigger("job", {"order": "order-1"},
                                                       None)))  # type: ignore[arg-type]
    if child.sent:  # answered: the run it made is committed now
        [reply] = child.sent
        assert reply.ok, reply
        assert _results(engine, row["id"]) == [(0, "order-1")], \
            "the SDK call's write committed before the record it follows"
