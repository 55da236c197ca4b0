"""A worker's pass: record what ended and claim what is next, both parts at once where the
database takes two writers.

The pass is the drain's bound: its transaction recorded ~200 ends, then claimed ~200 runs
(19 and 13 ms on one backend, one after the other) while the machine's other core had
room. The two parts touch different rows (runs this worker holds, EXECUTING; runs it
locks with ``SKIP LOCKED``, QUEUED), so on PostgreSQL the ends are written on a second
connection, from a second thread, while the claim runs on the first: the pass takes about
as long as its longer part. SQLite takes one writer at a time: there the pass stays one
transaction (``Store.serial_writes``).

Two transactions can fail apart. The answer says which part holds (``PassAnswer``): ends
that were not written go back to the worker's pending outcomes, runs that were claimed are
handed out all the same (a claim is never dropped: its leases would lapse and cost each
run a crashed attempt), and the error is raised after, so the loop backs off as for any
database fault. The ends are written with their flush to disk, the claim lazily, as in one
transaction (``Engine.record_and_claim``).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from outlast.engine import Engine, Outcome
from outlast.engine.dequeue import Claimed


@dataclass(frozen=True)
class PassAnswer:
    """What a pass did: ``recorded`` whether its ends were written; ``claimed`` the runs it
    started (None when its claim failed); ``error`` the first fault of either part;
    ``apart`` whether its ends were written beside the claim rather than before it.

    A claim beside the ends did not see them: in a queue with a concurrency limit, runs
    that ended in this pass still held their places, so the claim may have found less
    room than there is now. The worker claims again at once after such a pass rather than
    waiting for a wake-up that no end sends."""

    recorded: bool
    claimed: Claimed | None
    error: BaseException | None = None
    apart: bool = False


#: (outcomes, environment, worker id, queues, capacity, worker code): ``record_and_claim``'s
PassArgs = tuple[list[Outcome], str, str, "list[str] | None", int, Any]


class Passes:
    """Makes each pass's work; owns the second connection's thread where there is one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._beside: ThreadPoolExecutor | None = None

    def work(self, args: PassArgs) -> Callable[[], PassAnswer]:
        """The pass for ``args``, to run on the database turn's thread."""
        outcomes, capacity = args[0], args[4]
        if outcomes and capacity > 0 and not self.engine.store.serial_writes:
            return lambda: self._apart(args)
        return lambda: self._together(args)

    def _together(self, args: PassArgs) -> PassAnswer:
        _, claimed = self.engine.record_and_claim(*args)
        return PassAnswer(True, claimed)

    def _apart(self, args: PassArgs) -> PassAnswer:
        outcomes, rest = args[0], args[1:]
        if self._beside is None:
            self._beside = ThreadPoolExecutor(1, thread_name_prefix="outlast-worker-record")
        ends = self._beside.submit(self.engine.record, outcomes)
        claimed: Claimed | None = None
        error: BaseException | None = None
        try:
            _, claimed = self.engine.record_and_claim([], *rest)
        except Exception as exc:  # the ends may still have been written: see below
            error = exc
        try:
            ends.result()
        except Exception as exc:
            return PassAnswer(False, claimed, error or exc, apart=True)
        return PassAnswer(True, claimed, error, apart=True)

    def close(self) -> None:
        if self._beside is not None:
            self._beside.shutdown(wait=True)
            self._beside = None
