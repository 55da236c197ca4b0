"""How attempts ended, written on a thread of its own while the loop claims what is next.

A worker's pass used to record the ends that had arrived and claim what is next, on
PostgreSQL side by side on two connections, and it waited for both. In a drain of short
runs the ends' transaction (each run's final row with its list entries, its attempt, its
event, and the flush to disk) took about twice as long as the claim: the claim's
connection sat idle half of each pass, and the next claim started only after the ends'
commit.

Here the ends have a writer of their own. The loop hands it what ended (``submit``) and
goes on claiming; the writer writes everything handed to it since its last transaction in
one, so when ends arrive faster than a transaction takes, the next one carries more of
them (one commit, one flush) rather than a queue of transactions forming behind it. The
loop takes the answers on its own thread (``written``): a batch that failed goes back to
the loop's pending outcomes and is handed in again after the loop's back-off, as a failed
pass's ends were.

Order. What a run recorded (its journal entries, its logs) is written by the loop before
its end is handed here (``Supervisor._sync``). A durable write of a child's must follow
the ends that arrived before it: the loop notes how many ends had arrived (``handed``
and its own pending ones) and answers the write once that many are answered
(``answered``), on a later turn of its loop rather than waiting here; where it must
wait (the database failing, the worker stopping) it waits for them (``wait_answered``,
``flush``). The writer's rows are runs that ended; the claim's are queued runs it locks
with ``SKIP LOCKED``; the loop's heartbeats cover the runs it still holds.

Backlog. A writer that cannot keep up (a slow disk, a database busy with other work) must
not let ends pile up while the loop claims more: ``behind`` tells the loop how many wait,
and it claims nothing while more than ``MAX_BEHIND`` do.

SQLite takes one writer at a time: there the ends stay in the pass's one transaction and
no writer is made (``Store.serial_writes``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from outlast.engine import Outcome

#: the loop claims nothing while more ends than this wait to be written
MAX_BEHIND = 2000

#: a batch of ends and the error that kept it from being written (None: written)
Written = tuple[list[Outcome], "BaseException | None"]


class EndWriter:
    """Writes handed-in ends with ``write`` (``Engine.record``) on a lasting thread, all
    that waits in one call; ``wake`` is called on that thread after each call."""

    def __init__(self, write: Callable[[list[Outcome]], object],
                 wake: Callable[[], None]) -> None:
        self._write = write
        self._wake = wake
        self._changed = threading.Condition()
        self._queued: list[Outcome] = []
        self._writing: list[Outcome] = []
        self._answers: list[Written] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._handed = 0
        self._answered = 0

    def submit(self, outcomes: list[Outcome]) -> None:
        """Hand ``outcomes`` in; they are written with whatever else waits."""
        if not outcomes:
            return
        with self._changed:
            if self._closing:
                raise RuntimeError("the end writer is closed")
            self._queued.extend(outcomes)
            self._handed += len(outcomes)
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, daemon=True,
                                                name="outlast-worker-ends")
                self._thread.start()

    @property
    def behind(self) -> int:
        """How many ends are handed in and not yet written (or failed)."""
        with self._changed:
            return len(self._queued) + len(self._writing)

    @property
    def handed(self) -> int:
        """How many ends were handed in since the writer was made (a batch handed in
        again after a failure counts again)."""
        with self._changed:
            return self._handed

    @property
    def answered(self) -> int:
        """How many of the ends handed in were written or failed: the first ``answered``
        handed in are."""
        with self._changed:
            return self._answered

    def wait_answered(self, count: int, timeout: float | None = None) -> bool:
        """Wait until the first ``count`` ends handed in are written or failed; False when
        ``timeout`` ran out first."""
        with self._changed:
            return self._changed.wait_for(lambda: self._answered >= count, timeout)

    def ending(self) -> list[Outcome]:
        """The ends handed in and not yet written: their runs are still held."""
        with self._changed:
            return [*self._writing, *self._queued]

    def written(self) -> list[Written]:
        """The answers since the last call, in the order written."""
        with self._changed:
            answers, self._answers = self._answers, []
        return answers

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every end handed in so far has been written or failed; False when
        ``timeout`` ran out first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queued and not self._writing,
                                          timeout)

    def close(self, timeout: float | None = None) -> None:
        """Write what waits, then stop the thread (``timeout``: give up waiting; the
        thread is a daemon, and what it did not write is recovered with its leases)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queued or self._closing)
                if not self._queued:
                    return
                batch, self._queued = self._queued, []
                self._writing = batch
            error: BaseException | None = None
            try:
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - the loop applies it (``written``)
                error = exc
            with self._changed:
                self._writing = []
                self._answered += len(batch)
                self._answers.append((batch, error))
                self._changed.notify_all()
            self._wake()
