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
from collections.abc import Callable

from outlast.engine import Engine, bulk_work
from outlast.upkeep.duty import Duty

log = logging.getLogger("outlast.bulk")

#: seconds between looks for new actions (and while not leading)
INTERVAL = 0.5
#: seconds between two batches
BATCH_PAUSE = 0.01


class BulkRunner(Duty):
    thread_name = "outlast-bulk"
    logger = log
    what = "bulk action pass"

    def __init__(self, engine: Engine, leading: Callable[[], bool], *,
                 interval: float = INTERVAL, batch_size: int = bulk_work.BATCH_SIZE) -> None:
        super().__init__(leading, interval=interval)
        self.engine = engine
        self._batch_size = batch_size

    def run_once(self) -> float | None:
        """A pass; the next starts at once while actions moved, so a large one goes on
        batch after batch without waiting ``interval``."""
        return 0.0 if self.step_all() else None

    def step_all(self) -> int:
        """One batch of each unfinished action; returns how many actions it moved."""
        rows = bulk_work.active(self.engine)
        for row in rows:
            if self.stopping or not self.leading:
                break
            bulk_work.step(self.engine, row, self._batch_size)
            self.pause(BATCH_PAUSE)
        return len(rows)
