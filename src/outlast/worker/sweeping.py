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

import time
from typing import TYPE_CHECKING

from outlast.engine import Engine

if TYPE_CHECKING:
    from outlast.upkeep import Upkeep


class SweeperTurn:
    """The supervisor's handle on its upkeep thread, shaped for the supervisor's loop.

    Upkeep starts once the worker has claimed for the first time: until then it would
    compete with the worker's start (its children's imports, its registration and first
    claim) for the processors, the interpreter and the database. A worker that has not
    claimed within ``START_WITHIN`` seconds of its first pass (its task modules do not
    import) starts it then. The upkeep is made (and ``outlast.upkeep`` loaded, ~7 ms) as
    it starts, after the first claim handed its runs out: the loop's first pass, where it
    was made before, is the one that registers the worker's code and claims once its first
    child is ready, and the first run waited for it there.
    """

    #: seconds from the first pass after which upkeep starts without a claim
    START_WITHIN = 1.0

    def __init__(self, engine: Engine, worker_id: str, enabled: bool = True) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.enabled = enabled
        self.upkeep: Upkeep | None = None
        self.started = False
        self._first_pass: float | None = None

    @property
    def leading(self) -> bool:
        return self.upkeep is not None and self.upkeep.leading

    def next_due(self) -> float | None:
        """When the loop must pass again to start upkeep (None: it has started, is not
        this worker's, or the loop has not passed yet); the upkeep thread keeps its own
        time after that."""
        if not self.enabled or self.started or self._first_pass is None:
            return None
        return self._first_pass + self.START_WITHIN

    def maybe_sweep(self, claimed: bool) -> None:
        """Start upkeep once the worker has claimed (``claimed``), or once
        ``START_WITHIN`` has gone by since the first pass."""
        if not self.enabled or self.started:
            return
        now = time.monotonic()
        if self._first_pass is None:
            self._first_pass = now
        if claimed or now - self._first_pass >= self.START_WITHIN:
            from outlast.upkeep import Upkeep  # see the class docstring

            self.started = True
            self.upkeep = Upkeep(self.engine, holder=self.worker_id,
                                 name="outlast-worker-upkeep")
            self.upkeep.start()

    def release(self) -> None:
        """On shutdown: stop the thread and let another process lead at once rather than
        after the lease's TTL."""
        if self.upkeep is not None:
            self.upkeep.stop()
