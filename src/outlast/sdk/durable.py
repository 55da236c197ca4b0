"""The durable side of a running attempt: sequence numbers, replay and suspension.

Every durable operation takes the next sequence number and a name. If the run's journal
has an entry there, the operation returns the recorded result without running (after
checking that kind and name match: a mismatch is ``NonDeterminismError``). Otherwise it
runs for real and its result is written to the journal through the ``Runtime`` — the
worker's supervisor, or the engine itself in ``outlast.testing``.

The database's trouble never reaches task code as an exception it could take for its
own: a ``PlatformUnavailableError`` answer is waited out and asked again (``patiently``),
and when the worker says to give up, ``HandBack`` (a ``BaseException``, like
``SuspendRun``) ends the attempt, which goes back to the queue uncharged.

Each operation travels as one typed request (``outlast.core.durable_requests``); the runtime
answers it by its type.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from outlast.core.durable_requests import DurableRequest, Op, ReadJournal
from outlast.core.spans import operation_span
from outlast.errors import OutlastError, PlatformUnavailableError
from outlast.observability import span


class NonDeterminismError(OutlastError):
    """Replay found a different durable operation than the journal recorded."""

    code = "non_determinism"


class DurableUsageError(OutlastError):
    """A durable operation used where it cannot be (outside a run, or concurrently)."""

    code = "durable_usage"
    http_status = 400


class SuspendRun(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """Ends the attempt so the run can wait without holding a process.

    A ``BaseException`` so that ``except Exception`` in task code cannot swallow it.
    """


class HandBack(BaseException):  # noqa: N818 - a control-flow signal, not an error
    """Ends the attempt because the platform, not the task, could not go on.

    The database stayed unavailable for longer than the attempt's lease allows; the
    worker hands the run back to its queue without charging the attempt. A
    ``BaseException`` so that ``except Exception`` in task code cannot swallow it.
    """


class Runtime(Protocol):
    """Answers an attempt's durable requests: the worker over the child's pipe, or the
    engine itself in ``outlast.testing``."""

    def __call__(self, request: DurableRequest) -> Any: ...


T = TypeVar("T")


def patiently(ask: Callable[[], T], pause: Callable[[float], None] = time.sleep) -> T:
    """``ask()``, asked again after the delay the worker gives while the database is
    unavailable; ``HandBack`` when the worker says the attempt must give up."""
    while True:
        try:
            return ask()
        except PlatformUnavailableError as exc:
            if exc.details.get("hand_back", True):  # no advice: do not spin, hand back
                raise HandBack(exc.message) from None
            pause(float(exc.details.get("retry_after", 1.0)))


def _patient(runtime: Runtime) -> Runtime:
    def ask(request: DurableRequest) -> Any:
        return patiently(lambda: runtime(request))

    return ask


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: str
    name: str
    status: str
    result: Any


class DurableRun:
    """The durable state of one attempt of one run."""

    def __init__(self, run_id: str, lease_id: str, attempt: int, environment: str,
                 runtime: Runtime, journal: list[dict[str, Any]] | None = None) -> None:
        self.run_id = run_id
        self.lease_id = lease_id
        self.attempt = attempt
        self.environment = environment
        self.ask: Runtime = _patient(runtime)
        #: given when the worker read it with the claim; else loaded on first use
        self._journal: dict[int, Entry] | None = None if journal is None else _index(journal)
        self._seq = 0
        self._last: int | None = None  # the journal's highest sequence number, once known
        #: set when the task's body has ended: what follows (its error, hooks) is new
        self.body_ended = False
        self._busy = threading.Lock()
        #: the first replay mismatch, kept even if task code swallows the exception: the
        #: attempt then ends parked whatever the code did next (``worker.executor``)
        self.mismatch: NonDeterminismError | None = None

    def _entries(self) -> dict[int, Entry]:
        if self._journal is None:  # loaded on first use: plain tasks never pay for it
            rows = self.ask(ReadJournal(self.run_id, self.lease_id))
            self._journal = _index(rows)
        return self._journal

    @property
    def replaying(self) -> bool | None:
        """Whether the task is still re-running code whose effects the journal recorded
        (an entry at or after the next sequence number): its log lines were written once
        already, by the attempt that recorded them. None while the journal is not known
        (not given with the claim and no durable operation has loaded it yet): no read is
        forced for this, so plain tasks never pay for it."""
        return False if self.body_ended else self.replays(self._seq)

    def replays(self, seq: int) -> bool | None:
        """Whether the operation at ``seq`` or a later one is answered from the journal;
        None while the journal is not known."""
        if self._journal is None:
            return None
        if self._last is None:  # the journal does not change under a running attempt
            self._last = max(self._journal, default=-1)
        return self._last >= seq

    def call(self, kind: str, name: str, fresh: Callable[[Op], Any]) -> Any:
        """Run one durable operation: replay it from the journal, or ``fresh(at)``, where
        ``at`` is the place its request writes (this run, lease, sequence, kind and name)."""
        seq, entry = self._take(kind, name)
        try:
            if entry is not None:
                return _recorded(entry, seq)
            with self._span(kind, name, seq):
                return fresh(Op(self.run_id, self.lease_id, seq, kind, name))
        finally:
            self._busy.release()

    async def acall(self, kind: str, name: str, fresh: Callable[[Op], Awaitable[Any]]) -> Any:
        """``call`` for asyncio code; a second operation while one is awaited is an error."""
        seq, entry = self._take(kind, name)
        try:
            if entry is not None:
                return _recorded(entry, seq)
            with self._span(kind, name, seq):
                return await fresh(Op(self.run_id, self.lease_id, seq, kind, name))
        finally:
            self._busy.release()

    def _span(self, kind: str, name: str, seq: int) -> Any:
        """The operation's OpenTelemetry span, named as the run page's trace names it."""
        return span(operation_span(kind, name), run_id=self.run_id, seq=seq,
                    operation=name, **{"outlast.kind": kind})

    def peek(self) -> Entry | None:
        """The journal entry at the next sequence number, without taking it: lets
        ``patched`` ask what a run recorded there before deciding which branch it is on."""
        return self._entries().get(self._seq)

    def _take(self, kind: str, name: str) -> tuple[int, Entry | None]:
        """Claim the next sequence number (holding the one-at-a-time guard) and its entry.

        The caller releases ``_busy``. A recorded entry must match ``kind`` and ``name``.
        """
        if not self._busy.acquire(blocking=False):
            raise DurableUsageError(
                f"durable operation {kind} {name!r} started while another one is in flight in "
                "the same run (e.g. asyncio.gather of steps); await durable operations one at "
                "a time so that their order, and so the replay, does not depend on scheduling"
            )
        try:
            if self.mismatch is not None:  # past a mismatch nothing may run or be written
                raise NonDeterminismError(self.mismatch.message, **self.mismatch.details)
            seq = self._seq
            self._seq += 1
            entry = self._entries().get(seq)
            if entry is not None:
                _check(entry, seq, kind, name, self)
        except BaseException:
            self._busy.release()
            raise
        return seq, entry


def _recorded(entry: Entry, seq: int) -> Any:
    if entry.status == "pending":  # resumed before its wait completed: wait again
        raise SuspendRun(f"still waiting at #{seq}")
    return entry.result


def _check(entry: Entry, seq: int, kind: str, name: str, run: DurableRun) -> None:
    if entry.kind != kind or entry.name != name:
        run.mismatch = NonDeterminismError(
            f"replay mismatch at durable operation #{seq}: the journal recorded "
            f"{entry.kind} {entry.name!r}, but the code now calls {kind} {name!r}. "
            "Code between durable operations must take the same path on every replay.",
            seq=seq, recorded={"kind": entry.kind, "name": entry.name},
            called={"kind": kind, "name": name},
        )
        raise run.mismatch


current_run: ContextVar[DurableRun | None] = ContextVar("outlast_durable_run", default=None)


def active(what: str) -> DurableRun:
    """The running attempt's durable state, or a clear error outside a run."""
    run = current_run.get()
    if run is None:
        raise DurableUsageError(f"{what} can only be used inside a running task")
    return run


def _index(rows: list[dict[str, Any]]) -> dict[int, Entry]:
    return {r["seq"]: Entry(r["seq"], r["kind"], r["name"], r["status"], r["result"])
            for r in rows}
