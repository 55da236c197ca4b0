"""The supervisor's pass (the transaction that claims what is next, and on SQLite records
what ended), run on a thread of its own.

The supervisor's loop is one thread. While it waited for the pass, nothing read the
children's pipes: their ends queued up and a child whose pipe ran dry sat idle. In a
drain of no-op runs the loop spent about half its time in that wait. Run on a thread, the
pass is in flight while the loop goes on reading ends and handing out buffered runs, and
the ends that arrive meanwhile are recorded together (by the next pass on SQLite, by the
end writer's next transaction on PostgreSQL: ``end_writer.py``).

Only one pass is in flight at a time, and the loop does no other database work while it
is (heartbeats, durable writes and sweeps wait for its answer, a few milliseconds). The
end writer's transaction may be in flight beside it: it writes runs that ended, and the
pass locks only queued runs (``SKIP LOCKED``), so the two never wait for each other
(``end_writer.py`` says where the writer can meet the loop's own work). The answer,
or the error, is taken on the loop's thread (``result``), which applies it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class DatabaseTurn:
    """One piece of database work at a time on a lasting thread; ``wake`` is called (on
    that thread) when it is done, so the loop's ``wait`` returns."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._work: Callable[[], Any] | None = None
        self._ready = threading.Condition()
        self._done = threading.Event()
        self._answer: Any = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        #: work was started and its answer not yet taken
        self.busy = False

    def start(self, work: Callable[[], Any]) -> None:
        """Run ``work`` on the thread; the previous answer must have been taken."""
        if self.busy:
            raise RuntimeError("a database turn is already in flight")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="outlast-worker-db",
                                            daemon=True)
            self._thread.start()
        self.busy = True
        self._done.clear()
        with self._ready:
            self._work = work
            self._ready.notify()

    def run_here(self, work: Callable[[], Any]) -> None:
        """Run ``work`` on the caller's thread, its answer taken by ``result`` as after
        ``start``: where nothing could go on meanwhile, the hop to the thread and back
        would only add to the wait (a run triggered into an idle worker)."""
        if self.busy:
            raise RuntimeError("a database turn is already in flight")
        self.busy = True
        self._done.clear()
        self._run(work)

    def finished(self) -> bool:
        """Is the work in flight done (its answer waiting to be taken)?"""
        return self.busy and self._done.is_set()

    def result(self, timeout: float | None = None) -> Any:
        """The work's answer (waiting up to ``timeout`` for it); its exception raised
        here. ``TimeoutError`` when it is still running."""
        if not self._done.wait(timeout):
            raise TimeoutError("the database turn is still running")
        self.busy = False
        answer, error, self._answer, self._error = self._answer, self._error, None, None
        if error is not None:
            raise error
        return answer

    def _serve(self) -> None:
        while True:
            with self._ready:
                while self._work is None:
                    self._ready.wait()
                work, self._work = self._work, None
            self._run(work)
            self._wake()

    def _run(self, work: Callable[[], Any]) -> None:
        """Run ``work``, keeping its answer or exception for ``result``."""
        try:
            self._answer = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop's thread
            self._error = exc
        self._done.set()
