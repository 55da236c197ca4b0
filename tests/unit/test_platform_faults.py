"""The database's trouble, told from real errors; how the worker answers it; how a
running attempt waits it out or gives up without its code ever seeing it."""

from __future__ import annotations

import sqlite3
import threading
from multiprocessing import Pipe
from typing import Any

import psycopg
import psycopg.errors as pg
import psycopg_pool
import pytest

from outlast import step, task
from outlast.core.durable_requests import DurableRequest, ReadJournal
from outlast.errors import OutlastError, PlatformUnavailableError, ValidationError, error_from_body
from outlast.sdk import calls
from outlast.sdk.durable import HandBack, patiently
from outlast.sdk.registry import Registry
from outlast.store.faults import is_transient
from outlast.worker.child import PipeTransport
from outlast.worker.child_calls import PlatformFaults
from outlast.worker.executor import run_attempt
from outlast.worker.messages import Assignment, Reply

TRANSIENT: list[tuple[str, BaseException]] = [
    ("pg-connection-lost", psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly")),
    ("pg-connect-refused", psycopg.OperationalError("connection failed: Connection refused")),
    ("pg-pool-timeout", psycopg_pool.PoolTimeout("couldn't get a connection after 30 sec")),
    ("pg-admin-shutdown", pg.AdminShutdown("terminating connection due to administrator")),
    ("pg-starting-up", pg.CannotConnectNow("the database system is starting up")),
    ("pg-crash-shutdown", pg.CrashShutdown("terminating connection")),
    ("pg-connection-failure", pg.ConnectionFailure("connection failure")),
    ("pg-serialization", pg.SerializationFailure("could not serialize access")),
    ("pg-deadlock", pg.DeadlockDetected("deadlock detected")),
    ("pg-lock-not-available", pg.LockNotAvailable("could not obtain lock")),
    ("pg-too-many-connections", pg.TooManyConnections("too many clients already")),
    ("pg-disk-full", pg.DiskFull("could not extend file")),
    ("pg-read-only-replica", pg.ReadOnlySqlTransaction("cannot execute UPDATE in a read-only")),
    ("sqlite-locked", sqlite3.OperationalError("database is locked")),
    ("sqlite-table-locked", sqlite3.OperationalError("database table is locked: runs")),
    ("sqlite-io", sqlite3.OperationalError("disk I/O error")),
    ("sqlite-cannot-open", sqlite3.OperationalError("unable to open database file")),
]

REAL: list[tuple[str, BaseException]] = [
    ("pg-unique", pg.UniqueViolation("duplicate key value violates unique constraint")),
    ("pg-foreign-key", pg.ForeignKeyViolation("violates foreign key constraint")),
    ("pg-not-null", pg.NotNullViolation("null value in column")),
    ("pg-bad-text", pg.InvalidTextRepresentation("invalid input syntax for type json")),
    ("pg-undefined-table", pg.UndefinedTable("relation \"runs\" does not exist")),
    ("pg-syntax", pg.SyntaxError("syntax error at or near")),
    ("pg-pipeline-aborted", pg.PipelineAborted("pipeline aborted")),
    ("pg-interface", psycopg.InterfaceError("the cursor is closed")),
    ("sqlite-no-table", sqlite3.OperationalError("no such table: runs")),
    ("sqlite-syntax", sqlite3.OperationalError("near \"SELEC\": syntax error")),
    ("sqlite-unique", sqlite3.IntegrityError("UNIQUE constraint failed: run_journal.seq")),
    ("outlast-validation", ValidationError("bad payload")),
    ("outlast-unavailable", PlatformUnavailableError("already answered")),
    ("value-error", ValueError("bug")),
    ("os-error", OSError("not a database error")),
]


@pytest.mark.parametrize("exc", [c[1] for c in TRANSIENT], ids=[c[0] for c in TRANSIENT])
def test_transient_faults(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [c[1] for c in REAL], ids=[c[0] for c in REAL])
def test_real_errors_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


# -- the worker's answer -------------------------------------------------------------------


def test_faults_in_a_row_back_off_then_hand_back_past_patience() -> None:
    faults = PlatformFaults(patience=5.0)
    fault = psycopg.OperationalError("server closed the connection unexpectedly")
    answers = [faults.answer("run_a", fault, now) for now in (100.0, 100.2, 101.0, 102.5)]
    assert [a.details["hand_back"] for a in answers] == [False, False, False, False]
    delays = [a.details["retry_after"] for a in answers]
    assert all(0 < d <= 2.5 for d in delays)
    assert faults.failing("run_a") and not faults.failing("run_b")
    last = faults.answer("run_a", fault, 104.9)  # 4.9 s in, plus the delay: past 5 s
    assert last.details["hand_back"] is True
    assert not faults.failing("run_a")  # a new attempt starts with a clean slate


def test_a_success_ends_the_fault_streak() -> None:
    faults = PlatformFaults(patience=5.0)
    fault = sqlite3.OperationalError("database is locked")
    faults.answer("run_a", fault, 100.0)
    faults.ok("run_a")
    assert not faults.failing("run_a")
    assert faults.answer("run_a", fault, 104.0).details["hand_back"] is False


def test_the_answer_round_trips_to_the_same_class() -> None:
    exc = PlatformFaults(5.0).answer("", sqlite3.OperationalError("database is locked"), 1.0)
    back = error_from_body(exc.to_dict(), exc.http_status)
    assert isinstance(back, PlatformUnavailableError)
    assert back.http_status == 503 and back.details["hand_back"] is False


# -- the attempt's side ----------------------------------------------------------------------


def unavailable(hand_back: bool) -> PlatformUnavailableError:
    return PlatformUnavailableError("database away", retry_after=0.25, hand_back=hand_back)


def test_patiently_waits_and_asks_again() -> None:
    answers: list[Any] = [unavailable(False), unavailable(False), {"done": True}]
    pauses: list[float] = []

    def ask() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    assert patiently(ask, pauses.append) == {"done": True}
    assert pauses == [0.25, 0.25]


def test_patiently_hands_back_with_a_signal_task_code_cannot_swallow() -> None:
    def ask() -> Any:
        raise unavailable(True)

    with pytest.raises(HandBack):
        try:
            patiently(ask, lambda _: None)
        except Exception:  # what task code would write
            pytest.fail("task code caught the platform's trouble")
    assert not issubclass(HandBack, Exception)


def test_patiently_leaves_real_errors_alone() -> None:
    def ask() -> Any:
        raise ValidationError("bad")

    with pytest.raises(OutlastError, match="bad"):
        patiently(ask, lambda _: pytest.fail("a real error must not be waited on"))


def test_an_sdk_call_from_task_code_waits_out_the_database_too() -> None:
    """``runs.retrieve`` in a task goes up the child's pipe; the worker's "unavailable,
    ask again" answers never reach task code."""
    child_end, worker_end = Pipe()
    away = PlatformUnavailableError("database away", retry_after=0.01, hand_back=False)

    def worker() -> None:
        for answer in (away, away, {"id": "run_1"}):
            request = worker_end.recv()
            if isinstance(answer, PlatformUnavailableError):
                worker_end.send(Reply(request.request_id, False, error=answer.to_dict(),
                                      status=503))
            else:
                worker_end.send(Reply(request.request_id, True, answer))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    pipe = PipeTransport(child_end, threading.Lock())
    assert pipe.send(calls.retrieve("run_1")) == {"id": "run_1"}
    thread.join(10)


def test_a_trigger_from_task_code_asked_again_is_the_same_trigger() -> None:
    """The first try may have committed before the database went away: asked again, the
    trigger carries the same idempotency key, so it finds that run instead of a second."""
    child_end, worker_end = Pipe()
    away = PlatformUnavailableError("database away", retry_after=0.01, hand_back=False)
    keys: list[Any] = []

    def worker() -> None:
        for answer in (away, {"id": "run_2", "task": "t", "created": True}):
            request = worker_end.recv()
            keys.append((request.call.body.get("options") or {}).get("idempotency_key"))
            if isinstance(answer, PlatformUnavailableError):
                worker_end.send(Reply(request.request_id, False, error=answer.to_dict(),
                                      status=503))
            else:
                worker_end.send(Reply(request.request_id, True, answer))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    pipe = PipeTransport(child_end, threading.Lock())
    assert pipe.send(calls.trigger("t", {"x": 1}, None))["id"] == "run_2"
    thread.join(10)
    assert len(keys) == 2 and keys[0] is not None and keys[0] == keys[1]


# -- the attempt ends uncharged, sync or async ------------------------------------------------


def _hand_back_runtime(request: DurableRequest) -> Any:
    if isinstance(request, ReadJournal):
        return []
    raise PlatformUnavailableError("database away", retry_after=0.0, hand_back=True)


def _job(task_id: str) -> Assignment:
    run = {"id": "run_1", "task_id": task_id, "payload": "null", "tags": "[]",
           "created_at": 0.0, "metadata": "{}", "max_attempts": 1, "queue": task_id,
           "machine": "small-1x"}
    return Assignment(run, "lease_1", 1, None, "dev")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_attempt_the_database_gave_up_on_ends_as_a_platform_error(kind: str) -> None:
    reg = Registry()
    seen: list[str] = []

    if kind == "sync":
        @task(id="t", registry=reg)
        def sync_task(payload: Any) -> str:
            try:
                return str(step.run("s", lambda: 1))
            except Exception as exc:  # what task code would write
                seen.append(repr(exc))
                raise
    else:
        @task(id="t", registry=reg)
        async def async_task(payload: Any) -> str:
            try:
                return str(await step.run_async("s", _one))
            except Exception as exc:
                seen.append(repr(exc))
                raise

    done = run_attempt(reg.get("t"), _job("t"), lambda message: None, _hand_back_runtime)
    assert (done.kind, seen) == ("platform_error", [])
    assert done.error is not None and done.error["type"] == "PlatformUnavailable"


async def _one() -> int:
    return 1


@pytest.mark.parametrize(("exc", "expected"), [
    (pg.DeadlockDetected("deadlock detected"), True),
    (pg.SerializationFailure("could not serialize access"), True),
    (pg.LockNotAvailable("could not obtain lock"), True),
    (pg.QueryCanceled("canceling statement due to statement timeout"), True),
    (psycopg.OperationalError("server closed the connection unexpectedly"), False),
    (pg.AdminShutdown("terminating connection due to administrator command"), False),
    (sqlite3.OperationalError("database is locked"), False),
    (ValueError("not a database error"), False),
])
def test_what_surely_did_not_commit(exc: BaseException, expected: bool) -> None:
    """Errors the server raised inside the open transaction, which a trigger group may
    write again one by one; a lost connection may have followed COMMIT."""
    from outlast.store.faults import rolled_back

    assert rolled_back(exc) is expected
