"""The bulk-action runner: a thread beside the upkeep loop that moves bulk actions on.

Like the pruner it works only while its process holds the upkeep lease, so one process
acts on runs at a time, and it has its own thread so a long action never delays a due
wake-up. Each pass takes every unfinished action, oldest first, one batch each
(``engine/bulk_work.py``), pausing ``BATCH_PAUSE`` between batches so that other writers
get the database in turn, until none is left; then it looks again every ``interval``.

The state of an action lives in its record, not here: when the process stops (or dies),
the next holder of the lease finds the action RUNNING and goes on from its cursor.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from outlast.engine import Engine, bulk_work

log = logging.getLogger("outlast.bulk")

#: seconds between looks for new actions (and while not leading)
INTERVAL = 0.5
#: seconds between two batches
BATCH_PAUSE = 0.01


class BulkRunner:
    def __init__(self, engine: Engine, leading: Callable[[], bool], *,
                 interval: float = INTERVAL, batch_size: int = bulk_work.BATCH_SIZE) -> None:
        self.engine = engine
        self._leading = leading
        self._interval = interval
        self._batch_size = batch_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outlast-bulk", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        """One batch of each unfinished action; returns how many actions it moved."""
        rows = bulk_work.active(self.engine)
        for row in rows:
            if self._stop.is_set() or not self._leading():
                break
            bulk_work.step(self.engine, row, self._batch_size)
            self._stop.wait(BATCH_PAUSE)
        return len(rows)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            while self._leading() and not self._stop.is_set():
                try:
                    if not self.run_once():
                        break
                except Exception:
                    log.exception("bulk action pass failed; retrying in %.1fs", self._interval)
                    break
