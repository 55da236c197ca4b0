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

from typing import TYPE_CHECKING

from outlast.engine import Engine

if TYPE_CHECKING:
    from outlast.upkeep import Upkeep


class SweeperTurn:
    """The supervisor's handle on its upkeep thread, shaped for the supervisor's loop.

    The upkeep is made (and ``outlast.upkeep`` loaded) by the loop's first pass, while the
    children start, rather than on the way to starting them.
    """

    def __init__(self, engine: Engine, worker_id: str, enabled: bool = True) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.enabled = enabled
        self.upkeep: Upkeep | None = None

    @property
    def leading(self) -> bool:
        return self.upkeep is not None and self.upkeep.leading

    def next_due(self) -> float | None:
        """Always None: the upkeep thread keeps its own time."""
        return None

    def maybe_sweep(self) -> None:
        """Start the upkeep thread once the supervisor has reached the database."""
        if self.enabled and self.upkeep is None:
            from outlast.upkeep import Upkeep  # see the class docstring

            self.upkeep = Upkeep(self.engine, holder=self.worker_id,
                                 name="outlast-worker-upkeep")
            self.upkeep.start()

    def release(self) -> None:
        """On shutdown: stop the thread and let another process lead at once rather than
        after the lease's TTL."""
        if self.upkeep is not None:
            self.upkeep.stop()
