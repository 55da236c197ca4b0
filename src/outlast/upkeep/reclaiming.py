"""The reclaimer: a thread beside the upkeep loop that vacuums the run tables whose dead
rows have piled up (``engine/reclaiming.py`` decides which).

Like the pruner it works only while its process holds the upkeep lease, so one process
vacuums, and it has its own thread so a VACUUM of a large table never delays a due
wake-up. It looks every ``CHECK_EVERY`` seconds (one read of the table statistics);
on SQLite nothing is ever due.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from outlast.engine import Engine
from outlast.engine.reclaiming import due_tables
from outlast.upkeep.duty import Duty

log = logging.getLogger("outlast.reclaim")

#: seconds between two looks at the dead rows
CHECK_EVERY = 15.0


class Reclaimer(Duty):
    thread_name = "outlast-reclaimer"
    logger = log
    what = "vacuuming"

    def __init__(self, engine: Engine, leading: Callable[[], bool], *,
                 every: float = CHECK_EVERY) -> None:
        super().__init__(leading, interval=every)
        self.engine = engine

    def run_once(self) -> None:
        self.reclaim_once()

    def reclaim_once(self) -> list[str]:
        """Vacuum the tables that are due; returns their names."""
        tables = due_tables(self.engine)
        if tables:
            began = time.monotonic()
            self.engine.store.reclaim(tables)
            log.info("vacuumed %s (dead rows had piled up) in %.1fs", ", ".join(tables),
                     time.monotonic() - began)
        return tables
