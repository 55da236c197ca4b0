"""A worker's share of upkeep: the same ``Upkeep`` loop a server runs, on its own thread.

Delayed runs must be promoted, TTLs expired, durable sleeps woken, runs of vanished
workers recovered, cron ticks fired and failure alerts sent even when no server is
running. Every worker runs the upkeep loop; the one that holds the ``sweeper`` lease does
all of it, sleeping until the next due moment (``outlast/upkeep``).

The loop has its own thread so that the supervisor's single-threaded loop neither waits
for a sweep nor decides when one is due; the two share nothing but the engine, whose
store gives each thread its own connection (SQLite) or a pooled one (PostgreSQL).
"""

from __future__ import annotations

from outlast.engine import Engine
from outlast.upkeep import Upkeep


class SweeperTurn:
    """The supervisor's handle on its upkeep thread, shaped for the supervisor's loop."""

    def __init__(self, engine: Engine, worker_id: str, enabled: bool = True) -> None:
        self.upkeep = Upkeep(engine, holder=worker_id, name="outlast-worker-upkeep") \
            if enabled else None
        self._started = False

    @property
    def leading(self) -> bool:
        return self.upkeep is not None and self.upkeep.leading

    def next_due(self) -> float | None:
        """Always None: the upkeep thread keeps its own time."""
        return None

    def maybe_sweep(self) -> None:
        """Start the upkeep thread once the supervisor has reached the database."""
        if self.upkeep is not None and not self._started:
            self._started = True
            self.upkeep.start()

    def release(self) -> None:
        """On shutdown: stop the thread and let another process lead at once rather than
        after the lease's TTL."""
        if self.upkeep is not None:
            self.upkeep.stop()
