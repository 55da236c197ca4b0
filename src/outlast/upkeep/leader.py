"""The upkeep loop: while holding the ``sweeper`` lease, do every time-driven duty.

Servers and workers run this same loop and compete for one lease in the store, so
exactly one process does upkeep at a time, whichever kind it is, and another takes over
within about one lease ttl when it dies (followers ask every ``FOLLOW_EVERY``). The
holder does all of it: promote delayed runs, expire TTLs, time out waits, wake due
sleeps, recover runs of vanished workers (``Engine.sweep``), fire cron ticks
(``schedules.tick``), move the alert outbox (``AlertSender``, its own thread),
delete runs whose retention is over (``Pruner``, its own thread too), and move bulk
actions on (``BulkRunner``, likewise). Duties split between kinds of process once
meant a worker holding the lease left cron ticks and alerts undone.

Between passes the holder sleeps until the next due moment read from the store
(``DueTimer``), at most ``interval``; a due note wakes it sooner. Recovery is continuous,
not a start-up step, so the loop never gives up: a failing database (a restart, a
failover) is logged and retried with backoff.

An outage longer than a run lease lets every running run's lease lapse, though its worker
is alive and only waiting for the database like the holder. So after a failed pass, the
holder recovers lapsed leases only once one ``lease_seconds`` (engine clock) has gone by
since the database answered again: live workers heartbeat within that and keep their
runs uncharged; a worker that really died meanwhile is recovered then, one lease later.
Every other duty goes on at once.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
import time

from outlast.core.backoff import backoff as backoff_after
from outlast.engine import Engine, sweeper
from outlast.upkeep.alerting import AlertSender
from outlast.upkeep.bulk import BulkRunner
from outlast.upkeep.pruning import Pruner
from outlast.upkeep.reclaiming import Reclaimer
from outlast.upkeep.timer import DueTimer

log = logging.getLogger("outlast.upkeep")

LEASE_NAME = "sweeper"
LEASE_TTL = 10.0
MAX_BACKOFF = 30.0
#: the longest the holder sleeps without reading the next due moment again: a moment
#: written further ahead than ``announce.ANNOUNCE_WITHIN`` is found before it is due
RECHECK = 1.0
#: how often a process that does not hold the lease asks for it
FOLLOW_EVERY = 1.0
#: seconds at least from one pass's start to the next: when moments fall due every
#: millisecond (a batch of sleeps), each pass takes all that are due by then, and the
#: holder's process keeps time for its other work
MIN_GAP = 0.005
#: the first pause after a pass that left something due undone (a row another
#: transaction held), doubled while it stays so: tried again soon, never spun on
STUCK_PAUSE = 0.05


def holder_id() -> str:
    """Unique per process (and per loop), readable in the leases table."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(failures: int, interval: float) -> float:
    """Seconds to wait after ``failures`` consecutive errors."""
    return backoff_after(failures, first=max(interval, 0.5), most=MAX_BACKOFF)


class Upkeep:
    """One per server and one per worker; only the lease holder's does anything."""

    def __init__(self, engine: Engine, *, interval: float = RECHECK, ttl: float = LEASE_TTL,
                 holder: str | None = None, name: str = "outlast-upkeep") -> None:
        self.engine = engine
        self.interval = interval
        self.ttl = ttl
        self.holder = holder or holder_id()
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timer: DueTimer | None = None  # while the thread runs
        self._next_lead = 0.0  # monotonic time of the next lease take/renew
        self._lead_until = 0.0  # we trust our lease until then (monotonic)
        self._overdue: float | None = None  # the due moment the last pass left undone
        self._stuck_pause = STUCK_PAUSE
        #: a pass failed since recovery was last allowed: the grace starts when one works
        self._saw_failure = False
        #: engine-clock moment from which lapsed leases may be recovered again
        self._recover_from = 0.0
        #: failure webhooks, sent from their own thread while this process leads
        self.alerts = AlertSender(engine, lambda: self.leading)
        #: retention: finished runs past their time, deleted from their own thread too
        self.pruner = Pruner(engine, lambda: self.leading)
        #: bulk actions (cancel or replay by filter), moved on from their own thread too
        self.bulk = BulkRunner(engine, lambda: self.leading)
        #: dead rows of the run tables vacuumed when they pile up, from its own thread too
        self.reclaimer = Reclaimer(engine, lambda: self.leading)

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
        self._timer = DueTimer(self.engine.store)
        self._thread = threading.Thread(target=self._loop, args=(self._timer,),
                                        name=self.name, daemon=True)
        self._thread.start()
        self.alerts.start()
        self.pruner.start()
        self.bulk.start()
        self.reclaimer.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and hand the lease back so another process takes over at once."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.poke()
        self.alerts.stop(timeout)
        self.pruner.stop(timeout)
        self.bulk.stop(timeout)
        self.reclaimer.stop(timeout)
        thread.join(timeout)
        if timer is not None and not thread.is_alive():
            timer.close()
        if self._lead_until:
            self._lead_until = 0.0
            try:
                self.engine.release_lead(LEASE_NAME, self.holder)
            except Exception:
                log.warning("could not release the %s lease", LEASE_NAME, exc_info=True)

    def wake(self) -> None:
        """Run a pass now (a writer in this process knows of an earlier due moment)."""
        timer = self._timer
        if timer is not None:
            timer.poke()

    def _loop(self, timer: DueTimer) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                pause = max(self._pass(timer), started + MIN_GAP - time.monotonic())
                failures = 0
            except Exception:
                self._saw_failure = True  # also a failure outside tick (the timer's)
                failures += 1
                pause = backoff(failures, self.interval)
                timer.forget()  # a fresh listener once the database answers
                log.exception("upkeep pass failed (%d in a row); retrying in %.1fs",
                              failures, pause)
            if not self._stop.is_set():
                timer.sleep(pause, self.engine.clock.now() + pause)

    def _pass(self, timer: DueTimer) -> float:
        """``tick`` with the timer's listener open exactly while leading."""
        timer.drain()  # this pass reads everything: notes from before it are stale
        listening = timer.listening
        pause = self.tick()
        if not self.leading:
            timer.forget()
        elif not listening:
            # just took the lease: listen, then read the due moments again, so none
            # written between that read and the listen is missed
            timer.listen()
            pause = 0.0
        return pause

    def tick(self) -> float:
        """One pass: keep (or try for) the lease; while we hold it, do every due duty.

        Returns the seconds until the next pass is due.
        """
        try:
            return self._tick()
        except Exception:
            self._saw_failure = True  # the database (or the lease) failed us: see _may_recover
            raise

    def _tick(self) -> float:
        if not self._lease():
            return self._until_lease()
        report = self.engine.sweep(recover=self._may_recover())
        if report.total:
            log.debug("swept: %d enqueued, %d expired, %d woken, %d recovered",
                      report.enqueued, report.expired, report.woken, report.recovered)
        ticked = self.engine.schedules.tick()
        if ticked.total:
            log.debug("schedules: %d run(s) fired, %d tick(s) skipped",
                      len(ticked.fired), ticked.skipped)
        return self._pause(report.total + ticked.total > 0)

    def _may_recover(self) -> bool:
        """May this pass recover runs whose lease lapsed? Not within one run lease of a
        failure: the workers failed to heartbeat for the same reason, and are given one
        lease's time from now to do so before their runs count as lost."""
        now = self.engine.clock.now()
        if self._saw_failure:
            self._saw_failure = False
            self._recover_from = now + self.engine.lease_seconds
        return now >= self._recover_from

    def _pause(self, did_work: bool) -> float:
        """Until the next due moment, the lease renewal or the re-check, whichever is first."""
        now = self.engine.clock.now()
        with self.engine.store.transaction(write=False) as tx:
            moment = sweeper.next_due(tx)
        until_due = math.inf if moment is None else moment - now
        overdue = moment if until_due <= 0 else None
        if overdue is not None and not did_work and overdue == self._overdue:
            until_due = self._stuck_pause  # due, yet this pass could do none of it
            self._stuck_pause = min(self._stuck_pause * 2, self.interval)
        else:
            self._stuck_pause = STUCK_PAUSE
        self._overdue = overdue
        return max(0.0, min(until_due, self.interval, self._until_lease()))

    def _until_lease(self) -> float:
        return max(0.0, self._next_lead - time.monotonic())

    def _lease(self) -> bool:
        """Renew every third of the ttl; a follower asks every ``FOLLOW_EVERY``."""
        now = time.monotonic()
        if now < self._next_lead:
            return self.leading
        self._lead_until = 0.0  # if try_lead raises, we no longer trust the lease
        held = self.engine.try_lead(LEASE_NAME, self.holder, self.ttl)
        if held:
            # measured from before the call: the store's expiry is at least this late
            self._lead_until = now + self.ttl
            self._next_lead = now + self.ttl / 3
        else:
            self._next_lead = now + min(FOLLOW_EVERY, self.ttl / 3)
        return self.leading
