"""Answering a running task's calls: SDK calls and durable operations, through its worker.

A task's ``runs.retrieve`` or ``metadata.set`` is sent up the child's pipe and answered
here, against the database the worker already holds, so children need no connection of
their own. Errors go back as a reply the child raises; nothing here may stop the loop.

The database's trouble is not the task's. A transient fault (``store/faults.py``) is
answered ``platform_unavailable`` with a delay: the child waits and asks again, so this
single loop never sleeps and heartbeats and other children keep flowing meanwhile. When
the fault outlasts ``patience`` (half the lease: heartbeats may be failing too, and the
hand-back must land while the attempt still holds its run), the answer says
``hand_back``: the attempt stops with a signal task code cannot catch and the run goes
back to its queue without charging the attempt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from outlast.core.durable_requests import DurableRequest, ReadJournal, Record, caller
from outlast.core.retry import Retry, retry_delay
from outlast.engine import Engine
from outlast.errors import OutlastError, PlatformUnavailableError
from outlast.store.faults import is_transient
from outlast.worker import runtime
from outlast.worker.messages import ApiCall, Reply, RuntimeCall

if TYPE_CHECKING:
    from outlast.sdk.transports import LocalTransport
    from outlast.worker.records_ahead import RecordsAhead

log = logging.getLogger("outlast.worker")

#: durable operations that only read; a resumed run asks for its journal first thing, and
#: flushing the worker's pending results before answering cost a transaction per resume
READS = (ReadJournal,)
#: how long a child waits before asking again, by how many times in a row it failed
PLATFORM_RETRY = Retry(max_attempts=1_000_000, factor=2.0, min_delay=0.05, max_delay=2.0)


class PlatformFaults:
    """Transient faults in a row, per caller (a run, or ``""``), and what to answer."""

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self._since: dict[str, tuple[float, int]] = {}  # key → (first fault, faults)

    def failing(self, key: str) -> bool:
        """Did this caller's last call meet a fault (so this one is a second try)?"""
        return key in self._since

    def ok(self, key: str) -> None:
        self._since.pop(key, None)

    def answer(self, key: str, exc: BaseException, now: float) -> PlatformUnavailableError:
        """Wait and ask again, or (past ``patience``) hand the attempt back."""
        first, count = self._since.get(key, (now, 0))
        count += 1
        delay = retry_delay(PLATFORM_RETRY, count)
        hand_back = now + delay - first >= self.patience
        if hand_back:
            self._since.pop(key, None)
        else:
            self._since[key] = (first, count)
        return PlatformUnavailableError(
            f"the database is unavailable ({type(exc).__name__}: {exc})",
            retry_after=delay, hand_back=hand_back)


class ChildCalls:
    def __init__(self, engine: Engine, environment: str, flush: Callable[[], None],
                 ahead: RecordsAhead | None = None) -> None:
        """``flush`` writes what came before a durable write (logs, results, and the
        records sent ahead); ``ahead``: those records, written before an SDK call too, and
        asked after a flush whether a write must be refused (``RecordsAhead.refusal``)."""
        self.engine = engine
        self.environment = environment
        self._flush = flush
        self._ahead = ahead
        self._api: LocalTransport | None = None  # made for the first call (``_local``)
        self.faults = PlatformFaults(engine.lease_seconds / 2)

    def answer(self, message: ApiCall) -> Reply:
        """An SDK call (trigger, retrieve, …) made from task code: what it writes comes
        after the steps the task recorded before it (``records_ahead``)."""

        def call() -> Any:
            if self._ahead is not None:
                self._ahead.write()
            return self._local().send(message.call)

        return self._reply(message.request_id, "", call, "a task's API call")

    def _refusal(self, request: DurableRequest) -> OutlastError | None:
        return None if self._ahead is None else self._ahead.refusal(request)

    def _local(self) -> LocalTransport:
        """The in-process API, made when a task first calls it: many tasks never do, and
        loading it (the API's handlers and the SDK's calls, with pydantic) would delay
        every worker's start."""
        if self._api is None:
            from outlast.sdk.transports import LocalTransport

            self._api = LocalTransport(self.engine, self.environment)
        return self._api

    def run_op(self, message: RuntimeCall) -> Reply:
        """A durable operation of a running attempt; the reply unblocks the child."""

        request = message.request
        key = caller(request)

        def op() -> Any:
            if not isinstance(request, READS):  # a read orders nothing: what waits, waits
                self._flush()  # for a pass; logs and results first, so the journal follows
                refused = self._refusal(request)
                if refused is not None:
                    raise refused
            if self.faults.failing(key):  # the last try may have committed before the fault
                done = runtime.committed(self.engine, request)
                if done is not None:
                    return done
            return runtime.dispatch(self.engine, self.environment, request)

        return self._reply(message.request_id, key, op, f"durable operation {request.op}")

    def batchable(self, message: RuntimeCall) -> bool:
        """A completed operation (``Record``) asked for the first time (see ``run_records``)."""
        request = message.request
        return isinstance(request, Record) and not self.faults.failing(request.at.run_id)

    def run_records(self, messages: list[RuntimeCall]) -> list[Reply] | None:
        """Several attempts' completed operations (``Record``) written in one transaction
        and answered together. A database fault tells each to ask again, as it would
        alone (the second try goes alone and finds what did commit); None when the
        transaction failed otherwise (a lost lease): it was rolled back, and the caller
        answers each with ``run_op``, so the error is that attempt's only."""
        requests = [m.request for m in messages]
        if len(requests) < 2 or not all(self.batchable(m) for m in messages):
            return None
        try:
            self._flush()  # logs and results first, so the journal follows them
            if any(self._refusal(r) is not None for r in requests):
                return None  # one by one: those refused are told so (``run_op``)
            answers = self.engine.durable.record_many(
                [(r.at, r.result, r.elapsed) for r in requests])  # type: ignore[union-attr]
        except Exception as exc:
            if not is_transient(exc):  # rolled back: one by one, each meets its own error
                return None
            log.warning("%d durable operations met a database fault (%s); the tasks will "
                        "ask again", len(requests), exc)
            now = time.monotonic()  # it may have committed: the second tries check alone
            return [_error(m.request_id, self.faults.answer(caller(m.request), exc, now))
                    for m in messages]
        return [Reply(m.request_id, True, answer)
                for m, answer in zip(messages, answers, strict=True)]

    def _reply(self, request_id: int, key: str, call: Callable[[], Any], what: str) -> Reply:
        try:
            data = call()
        except OutlastError as exc:
            self.faults.ok(key)
            return _error(request_id, exc)
        except Exception as exc:
            if is_transient(exc):
                log.warning("%s met a database fault (%s); the task will ask again", what, exc)
                return _error(request_id, self.faults.answer(key, exc, time.monotonic()))
            self.faults.ok(key)
            log.exception("%s failed", what)
            return _internal(request_id, exc)
        self.faults.ok(key)
        return Reply(request_id, True, data)


def _error(request_id: int, exc: OutlastError) -> Reply:
    return Reply(request_id, False, error=exc.to_dict(), status=exc.http_status)


def _internal(request_id: int, exc: Exception) -> Reply:
    return Reply(request_id, False, status=500,
                 error={"code": "internal_error", "message": str(exc)})
