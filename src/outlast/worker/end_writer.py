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
them (one commit, one flush) rather than a queue of transactions forming behind it.

Faults. A transaction that fails (the database restarting, a deadlock with one of the
loop's own transactions: below) keeps its ends at the head of the queue; the writer tries
them again, with whatever arrived meanwhile, after ``RETRY_AFTER`` seconds, and at once
when it is closed (once more, then it gives up: the runs are recovered with their
leases, as a worker that died would leave them). The loop learns of each fault
(``written``) to back off as for any database fault of its own.

Order. What a run recorded (its journal entries, its logs) is written by the loop before
its end is handed here (``Supervisor._sync``). A durable write of a child's must follow
the ends that arrived before it: the loop notes how many ends had arrived (``handed``
and its own pending ones) and answers the write once that many are written
(``written_count``), on a later turn of its loop rather than waiting here. Ends keep their
places in that count: a failed batch is not handed in again, it stays first.

Rows. The writer's are runs that ended and their parents' waits; a claim locks queued runs
(``SKIP LOCKED``) and never waits for it. The loop's own transactions (heartbeats, durable
writes) lock runs still running; they can meet the writer on a parent whose child ended
while the parent still runs, and two such rows taken in opposite orders deadlock.
PostgreSQL ends one of the two after ``deadlock_timeout``: a failed batch here is tried
again, a heartbeat or a durable write of the loop's is too (a child asks again).

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
#: seconds before a failed batch is tried again
RETRY_AFTER = 1.0


def _nothing() -> None:
    pass


class EndWriter:
    """Writes handed-in ends with ``write`` (``Engine.record``) on a lasting thread, all
    that waits in one call; ``wake`` is called on that thread after each call."""

    def __init__(self, write: Callable[[list[Outcome]], object],
                 wake: Callable[[], None]) -> None:
        self._write = write
        self._wake = wake
        self._changed = threading.Condition()
        self._queued: list[Outcome] = []
        self._errors: list[BaseException] = []
        self._thread: threading.Thread | None = None
        self._closing = False
        self._handed = 0
        self._written = 0
        self._new_written = False
        self._retry_now = False

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
        """How many ends are handed in and not yet written."""
        with self._changed:
            return self._handed - self._written

    @property
    def handed(self) -> int:
        """How many ends were handed in since the writer was made."""
        with self._changed:
            return self._handed

    @property
    def written_count(self) -> int:
        """How many ends were written: the first ``written_count`` handed in."""
        with self._changed:
            return self._written

    def waiting(self) -> list[Outcome]:
        """The ends handed in and not yet written, in order."""
        with self._changed:
            return list(self._queued)

    def written(self) -> tuple[bool, list[BaseException]]:
        """Since the last call: whether ends were written, and the faults met."""
        with self._changed:
            done, self._new_written = self._new_written, False
            errors, self._errors = self._errors, []
        return done, errors

    def wait_written(self, count: int, timeout: float | None = None) -> bool:
        """Wait until the first ``count`` ends handed in are written: True; False when a
        fault is met first (``written`` says which) or ``timeout`` runs out."""
        with self._changed:
            self._changed.wait_for(lambda: self._written >= count or self._errors, timeout)
            return self._written >= count

    def flush(self, timeout: float | None = None) -> bool:
        """``wait_written`` for every end handed in so far."""
        return self.wait_written(self.handed, timeout)

    def retry_now(self) -> None:
        """Try a failed batch again at once rather than after ``RETRY_AFTER`` (a worker
        about to stop)."""
        with self._changed:
            self._retry_now = True
            self._changed.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Write what waits (a failed batch once more, at once), then stop the thread
        (``timeout``: give up waiting; the thread is a daemon, and what it did not write
        is recovered with its leases). No wake-up is sent after this returns."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self._wake = _nothing

    def _serve(self) -> None:
        failed = retried_on_close = False
        while True:
            with self._changed:
                if failed and not self._closing:  # try again later, or at once on close
                    self._changed.wait_for(lambda: self._closing or self._retry_now,
                                           RETRY_AFTER)
                    self._retry_now = False
                if failed and self._closing:
                    if retried_on_close:
                        return  # tried once more since the close: given up
                    retried_on_close = True
                self._changed.wait_for(lambda: self._queued or self._closing)
                if not self._queued:
                    return
                batch = list(self._queued)
            error: BaseException | None = None
            try:
                self._write(batch)
            except BaseException as exc:  # noqa: BLE001 - the loop applies it (``written``)
                error = exc
            failed = error is not None
            with self._changed:
                if error is None:
                    del self._queued[:len(batch)]
                    self._written += len(batch)
                    self._new_written = True
                else:
                    self._errors.append(error)
                self._changed.notify_all()
            self._wake()
