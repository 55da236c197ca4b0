"""The server's upkeep loop: sweep and fire cron schedules while holding the ``sweeper`` lease.

Any number of servers may run a ``Scheduler``; the ``sweeper`` leader lease in the store
makes exactly one of them sweep at a time, and another takes over within one lease ttl
when that one dies. Recovery is continuous, not a start-up step, so the loop never gives
up: a failing database (a restart, a failover) is logged and retried with backoff.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from outlast.engine import Engine
from outlast.server.alerting import AlertSender

log = logging.getLogger("outlast.scheduler")

LEASE_NAME = "sweeper"
MAX_BACKOFF = 30.0


def holder_id() -> str:
    """Unique per process (and per scheduler), readable in the leases table."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(failures: int, interval: float) -> float:
    """Seconds to wait after ``failures`` consecutive errors."""
    return float(min(MAX_BACKOFF, max(interval, 0.5) * 2.0 ** (failures - 1)))


class Scheduler:
    def __init__(self, engine: Engine, *, interval: float = 0.1, ttl: float = 15.0,
                 holder: str | None = None) -> None:
        self.engine = engine
        self.interval = interval
        self.ttl = ttl
        self.holder = holder or holder_id()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_lead = 0.0  # monotonic time of the next lease take/renew
        self._lead_until = 0.0  # we trust our lease until then (monotonic)
        #: failure webhooks, sent from their own thread while this scheduler leads
        self.alerts = AlertSender(engine, lambda: self.leading)

    @property
    def leading(self) -> bool:
        return time.monotonic() < self._lead_until

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outlast-scheduler",
                                        daemon=True)
        self._thread.start()
        self.alerts.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and hand the lease back so another server takes over at once."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self.alerts.stop(timeout)
        thread.join(timeout)
        if self._lead_until:
            self._lead_until = 0.0
            try:
                self.engine.release_lead(LEASE_NAME, self.holder)
            except Exception:
                log.warning("could not release the %s lease", LEASE_NAME, exc_info=True)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.tick()
                failures = 0
                pause = self.interval
            except Exception:
                failures += 1
                pause = backoff(failures, self.interval)
                log.exception("scheduler pass failed (%d in a row); retrying in %.1fs",
                              failures, pause)
            self._stop.wait(pause)

    def tick(self) -> None:
        """One pass: keep (or try for) the lease; while we hold it, sweep and fire schedules."""
        if self._lease():
            report = self.engine.sweep()
            if report.total:
                log.debug("swept: %d enqueued, %d expired, %d recovered",
                          report.enqueued, report.expired, report.recovered)
            ticked = self.engine.schedules.tick()
            if ticked.total:
                log.debug("schedules: %d run(s) fired, %d tick(s) skipped",
                          len(ticked.fired), ticked.skipped)

    def _lease(self) -> bool:
        """Renew every third of the ttl; a follower retries at the same pace."""
        now = time.monotonic()
        if now < self._next_lead:
            return self.leading
        self._lead_until = 0.0  # if try_lead raises, we no longer trust the lease
        held = self.engine.try_lead(LEASE_NAME, self.holder, self.ttl)
        self._next_lead = now + self.ttl / 3
        if held:
            # measured from before the call: the store's expiry is at least this late
            self._lead_until = now + self.ttl
        return self.leading
