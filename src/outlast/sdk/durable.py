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

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from outlast.core.blob_refs import surely_inline
from outlast.core.durable_requests import DurableRequest, Op, ReadJournal, Record
from outlast.core.spans import operation_span
from outlast.errors import OutlastError, PlatformUnavailableError
from outlast.observability import span
from outlast.sdk.hooks import WAIT_KINDS, WaitInfo


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


class WaitListener(Protocol):
    """Told when the run starts to wait and when it goes on (``worker.lifecycle``)."""

    def waiting(self, wait: WaitInfo) -> None: ...

    def resumed(self, wait: WaitInfo) -> None: ...

    async def awaiting(self, wait: WaitInfo) -> None: ...

    async def aresumed(self, wait: WaitInfo) -> None: ...


def _wait_info(kind: str, name: str, seq: int, *, in_process: bool) -> WaitInfo:
    return WaitInfo(WAIT_KINDS.get(kind, kind), name, seq, in_process)


class Runtime(Protocol):
    """Answers an attempt's durable requests: the worker over the child's pipe, or the
    engine itself in ``outlast.testing``."""

    def __call__(self, request: DurableRequest) -> Any: ...


class AsyncRuntime(Protocol):
    """``Runtime`` for an attempt that shares its loop with others (``worker.shared_runs``):
    the answer is awaited, so the attempts beside it go on meanwhile."""

    def __call__(self, request: DurableRequest) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class RecordAhead:
    """Where a completed operation is recorded without waiting for the answer: a worker's
    child sends the record up its pipe and the attempt goes on. The worker writes it
    before anything the attempt does next is written (its end, a wait, a child run), so
    the journal keeps its order and a crash can only lose records that nothing after
    them depends on (the step runs again, as steps may: they are at-least-once).

    ``limit``: the blob threshold. A result the engine might keep in the blob store
    (``core.blob_refs.surely_inline`` says no) asks and waits as before: the blob store's
    errors must meet the task where they happen."""

    send: Callable[[Record], None]
    limit: int


#: records an attempt sends without an answer in a row; the next one asks and waits. A
#: waiting operation's answer comes after every record before it was written, so this
#: bounds the steps an attempt runs ahead of the journal: during a database outage at most
#: this many, where it would otherwise run all its steps and, past its lease, lose them
AHEAD_MAX = 64


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


async def apatiently(ask: Callable[[], Awaitable[T]]) -> T:
    """``patiently`` for asyncio code: the pause is awaited."""
    while True:
        try:
            return await ask()
        except PlatformUnavailableError as exc:
            if exc.details.get("hand_back", True):
                raise HandBack(exc.message) from None
            await asyncio.sleep(float(exc.details.get("retry_after", 1.0)))


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
                 runtime: Runtime, journal: list[dict[str, Any]] | None = None,
                 ahead: RecordAhead | None = None, aruntime: AsyncRuntime | None = None,
                 lease: Callable[[], bool] | None = None) -> None:
        """``aruntime``: where ``aask`` awaits its answers (an attempt sharing its loop);
        without it, ``aask`` asks as ``ask`` does. ``lease``: whether the attempt surely
        still holds its run, asked before an operation runs rather than replays (a
        worker's child: past its lease another worker may have taken the run over and
        recorded that very operation); False ends the attempt handed back."""
        self.run_id = run_id
        self.lease_id = lease_id
        self.attempt = attempt
        self.environment = environment
        self._ask: Runtime = _patient(runtime)
        self._aruntime = aruntime
        self._ahead = ahead
        self._ahead_sent = 0  # records sent since the last answered write
        self._lease = lease
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
        #: the kind of hook running now, when it may not start durable operations
        self.hook: str | None = None
        #: told when the run starts to wait and when it goes on (``on_wait``/``on_resume``)
        self.listener: WaitListener | None = None

    def ask(self, request: DurableRequest) -> Any:
        """``request`` answered by the runtime (waited out while the database is away)."""
        answer = self._ask(request)
        if not isinstance(request, ReadJournal):  # written after the records before it
            self._ahead_sent = 0
        return answer

    async def aask(self, request: DurableRequest) -> Any:
        """``ask`` for asyncio code: awaited where the attempt shares its loop, so one
        attempt's wait for the worker never holds up the others."""
        aruntime = self._aruntime
        if aruntime is None:
            return self.ask(request)
        answer = await apatiently(lambda: aruntime(request))
        if not isinstance(request, ReadJournal):
            self._ahead_sent = 0
        return answer

    async def arecord(self, request: Record, text: str) -> Any:
        """``record`` for asyncio code (``aask`` where it must ask)."""
        if self._sends_ahead(text):
            return self._send_ahead(request)
        return (await self.aask(request))["result"]

    def _sends_ahead(self, text: str) -> bool:
        ahead = self._ahead
        return ahead is not None and self._ahead_sent < AHEAD_MAX \
            and surely_inline(text, ahead.limit)

    def _send_ahead(self, request: Record) -> Any:
        assert self._ahead is not None
        self._ahead.send(request)
        self._ahead_sent += 1
        return request.result

    def record(self, request: Record, text: str) -> Any:
        """Record a completed operation whose result is ``text`` as JSON; the result.

        Told without waiting where the runtime takes records ahead (``RecordAhead``), the
        result is small and fewer than ``AHEAD_MAX`` went unanswered; otherwise asked,
        and the answer's value returned."""
        if self._sends_ahead(text):
            return self._send_ahead(request)
        return self.ask(request)["result"]

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
        ``at`` is the place its request writes (this run, lease, sequence, kind and name).

        A wait that suspends the run tells the ``listener`` first (``on_wait``); passing
        the journal's last entry, when it is a wait, tells it the run goes on
        (``on_resume``: this execution resumes the run)."""
        seq, entry = self._take(kind, name)
        try:
            if entry is not None:
                result = _recorded(entry, seq)
            else:
                self.check_lease(f"{kind} {name!r}")
                with self._span(kind, name, seq):
                    result = fresh(Op(self.run_id, self.lease_id, seq, kind, name))
            if entry is not None and self._resumes_at(entry) and self.listener is not None:
                self.listener.resumed(_wait_info(entry.kind, name, seq, in_process=False))
            return result
        except SuspendRun:
            if self.listener is not None and kind in WAIT_KINDS:
                self.listener.waiting(_wait_info(kind, name, seq, in_process=False))
            raise
        finally:
            self._busy.release()

    async def acall(self, kind: str, name: str, fresh: Callable[[Op], Awaitable[Any]]) -> Any:
        """``call`` for asyncio code; a second operation while one is awaited is an error."""
        seq, entry = self._take(kind, name)
        try:
            if entry is not None:
                result = _recorded(entry, seq)
            else:
                self.check_lease(f"{kind} {name!r}")
                with self._span(kind, name, seq):
                    result = await fresh(Op(self.run_id, self.lease_id, seq, kind, name))
            if entry is not None and self._resumes_at(entry) and self.listener is not None:
                await self.listener.aresumed(_wait_info(entry.kind, name, seq,
                                                        in_process=False))
            return result
        except SuspendRun:
            if self.listener is not None and kind in WAIT_KINDS:
                await self.listener.awaiting(_wait_info(kind, name, seq, in_process=False))
            raise
        finally:
            self._busy.release()

    def check_lease(self, what: str) -> None:
        """``HandBack`` unless the attempt surely still holds its run: its worker has not
        renewed the lease in time (stopped, hung, or the database away), so another worker
        may have taken the run over; what would start now must not."""
        if self._lease is not None and not self._lease():
            raise HandBack(f"{what} was not started: this worker could not renew the run's "
                           "lease in time, so another worker may have taken the run over")

    def pausing(self, at: Op) -> None:
        """A short wait is about to be sat out in this process (``on_wait``)."""
        if self.listener is not None:
            self.listener.waiting(_wait_info(at.kind, at.name, at.seq, in_process=True))

    def paused(self, at: Op) -> None:
        """The short wait at ``at`` is over (``on_resume``)."""
        if self.listener is not None:
            self.listener.resumed(_wait_info(at.kind, at.name, at.seq, in_process=True))

    async def apausing(self, at: Op) -> None:
        if self.listener is not None:
            await self.listener.awaiting(_wait_info(at.kind, at.name, at.seq, in_process=True))

    async def apaused(self, at: Op) -> None:
        if self.listener is not None:
            await self.listener.aresumed(_wait_info(at.kind, at.name, at.seq, in_process=True))

    def _resumes_at(self, entry: Entry) -> bool:
        """Is ``entry`` the wait this execution resumes the run from (the journal's last
        entry, a wait, done)? A retry that replays past it is told so too."""
        if entry.kind not in WAIT_KINDS or entry.status == "pending":
            return False
        if self._last is None:
            self._last = max(self._entries(), default=-1)
        return entry.seq == self._last

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
        if self.hook is not None:
            raise DurableUsageError(
                f"durable operation {kind} {name!r} started in a {self.hook} hook; hooks and "
                "middleware run outside the run's journal, so durable operations belong in "
                "the task")
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


def resolved(answer: dict[str, Any], waiting: str) -> Any:
    """A wait's answer: its result when it is done, else the run suspends ``waiting``."""
    if answer.get("done"):
        return answer["result"]
    raise SuspendRun(waiting)


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
