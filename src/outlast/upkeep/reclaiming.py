"""The reclaimer: a thread beside the upkeep loop that vacuums the run tables whose dead
rows have piled up (``engine/reclaiming.py`` decides which).

Like the pruner it works only while its process holds the upkeep lease, so one process
vacuums, and it has its own thread so a VACUUM of a large table never delays a due
wake-up. It looks every ``CHECK_EVERY`` seconds (one read of the table statistics);
on SQLite nothing is ever due.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from outlast.engine import Engine
from outlast.engine.reclaiming import due_tables

log = logging.getLogger("outlast.reclaim")

#: seconds between two looks at the dead rows
CHECK_EVERY = 15.0


class Reclaimer:
    def __init__(self, engine: Engine, leading: Callable[[], bool], *,
                 every: float = CHECK_EVERY) -> None:
        self.engine = engine
        self._leading = leading
        self._every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outlast-reclaimer",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def reclaim_once(self) -> list[str]:
        """Vacuum the tables that are due; returns their names."""
        tables = due_tables(self.engine)
        if tables:
            began = time.monotonic()
            self.engine.store.reclaim(tables)
            log.info("vacuumed %s (dead rows had piled up) in %.1fs", ", ".join(tables),
                     time.monotonic() - began)
        return tables

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            if not self._leading():
                continue
            try:
                self.reclaim_once()
            except Exception:
                log.exception("vacuuming failed; trying again in %.0fs", self._every)
