"""A worker's share of upkeep: sweep while it holds the ``sweeper`` lease.

Delayed runs must be promoted, TTLs expired, durable sleeps woken and runs of vanished
workers recovered even when no server is running. Every worker asks for the lease once a
``LEAD_EVERY``; the one that holds it sweeps every ``SWEEP_EVERY``, so a durable sleep
wakes within a fraction of a second of its time.
"""

from __future__ import annotations

import time

from outlast.engine import Engine

#: how often the sweeper-lease holder sweeps, and how often a worker asks for the lease
SWEEP_EVERY = 0.2
LEAD_EVERY = 1.0
LEASE_TTL = 10.0


class SweeperTurn:
    def __init__(self, engine: Engine, worker_id: str, enabled: bool = True) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.enabled = enabled
        self.leading = False
        self._last_sweep = 0.0
        self._last_lead = 0.0

    def next_due(self) -> float | None:
        """When the next sweep is due (monotonic), or None while another worker leads."""
        return self._last_sweep + SWEEP_EVERY if self.leading else None

    def maybe_sweep(self) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = now
        if now - self._last_lead >= LEAD_EVERY:
            self._last_lead = now
            self.leading = self.engine.try_lead("sweeper", self.worker_id, ttl=LEASE_TTL)
        if self.leading:
            self.engine.sweep()

    def release(self) -> None:
        """On shutdown: let another worker lead at once rather than after the lease's TTL."""
        self.engine.release_lead("sweeper", self.worker_id)
        self.leading = False
