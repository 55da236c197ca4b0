"""A worker's own numbers, which `outlast worker --metrics-port N` serves.

The server's ``/metrics`` counts runs from the database; this says what one worker
process did: attempts it started and how each ended, how long they ran, its slots busy
and free, how long its claims took, how long the runs it claimed had waited, and the
durable writes its attempts asked for. Every number is kept in the supervisor's loop as
it happens (a counter's increment under a lock: nothing the loop would notice) and only
read by the HTTP thread, so a scrape never touches the database or the loop.

How attempts ended is counted a loop turn at a time: ``ended`` only notes each end, and
``settle`` (at the end of each turn of the supervisor's loop, and before each page) counts
what was noted, a few increments per task and outcome rather than a counter's and a
histogram's (each a lock, a label key) per run; in a drain of no-op runs those were a
tenth of the loop's time. A page is never older than the turn under way.

The page is served by ``metrics_server.py``, only when ``--metrics-port`` asks for it.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

from outlast.core import prometheus as prom
from outlast.core.durable_requests import DurableRequest, Journaled


class WorkerMetrics:
    """What the supervisor records; ``render`` is the page."""

    def __init__(self) -> None:
        self.started = prom.Counter(
            "outlast_worker_attempts_started_total",
            "Attempts this worker claimed to run, by task.", ("task",))
        self.finished = prom.Counter(
            "outlast_worker_attempts_finished_total",
            "Attempts this worker ended, by task and outcome (completed, failed, crashed, "
            "timed_out, suspended, released, …).", ("task", "outcome"))
        self.durations = prom.Histogram(
            "outlast_worker_attempt_duration_seconds",
            "Seconds attempts ran in this worker's children, by task.", ("task",))
        self.slots = prom.Gauge(
            "outlast_worker_slots", "This worker's slots: busy (running an attempt) and "
            "free.", ("state",))
        self.claims = prom.Histogram(
            "outlast_worker_claim_seconds", "Seconds each claim's transaction took (with "
            "the outcomes written in it).", (), prom.LATENCY_BUCKETS)
        self.queue_waits = prom.Histogram(
            "outlast_worker_queue_wait_seconds", "Seconds the runs this worker claimed had "
            "been claimable, by queue.", ("queue",))
        self.journal_writes = prom.Counter(
            "outlast_worker_journal_writes_total", "Durable operations this worker's "
            "attempts recorded in their journals (steps, waits, triggers), by operation; "
            "one asked again after a database fault counts again.", ("op",))
        #: ends noted and not yet counted (``settle``): (task, outcome, seconds or None)
        self._ended: deque[tuple[str, str, float | None]] = deque()
        self._settling = threading.Lock()
        self._slots_set: tuple[int, int] | None = None

    def claimed(self, rows: list[dict[str, Any]], now: float) -> None:
        """Runs a claim started: an attempt each, and how long each had waited."""
        started: dict[str, int] = {}
        waits: dict[str, list[float]] = {}
        for row in rows:
            task = str(row["task_id"])
            started[task] = started.get(task, 0) + 1
            ready = max(float(row.get("queued_at") or 0.0), float(row.get("available_at") or 0.0))
            if ready:
                waits.setdefault(str(row["queue"]), []).append(max(0.0, now - ready))
        for task, n in started.items():  # a claim's runs are mostly of a few tasks
            self.started.inc(task, amount=n)
        for queue, seconds in waits.items():
            self.queue_waits.observe_many(seconds, queue)

    def ended(self, task: str, outcome: str, executed: float | None) -> None:
        """An attempt ended; ``executed`` None when it never ran (handed back unstarted).
        Counted by the next ``settle``."""
        self._ended.append((task, outcome, executed))

    def settle(self) -> None:
        """Count the ends noted since the last call (the loop's thread calls it after each
        turn, the page's before it is rendered: either may, the lock keeps a page from
        being rendered while ends taken off the list are not counted yet)."""
        if self._ended:
            self._settle()

    def _settle(self) -> None:
        with self._settling:
            ended, take = self._ended, self._ended.popleft
            counts: dict[tuple[str, str], int] = {}
            seconds: dict[str, list[float]] = {}
            while ended:
                task, outcome, executed = take()
                key = (task, outcome)
                counts[key] = counts.get(key, 0) + 1
                if executed is not None:
                    ran = seconds.get(task)
                    if ran is None:
                        seconds[task] = [executed]
                    else:
                        ran.append(executed)
            for (task, outcome), n in counts.items():
                self.finished.inc(task, outcome, amount=n)
            for task, values in seconds.items():
                self.durations.observe_many(values, task)

    def wrote(self, request: DurableRequest) -> None:
        if isinstance(request, Journaled):
            self.journal_writes.inc(request.op)

    def set_slots(self, busy: int, total: int) -> None:
        """Set after every turn of the loop; the gauges change only when the count does."""
        if (busy, total) == self._slots_set:
            return
        self._slots_set = (busy, total)
        self.slots.set(busy, "busy")
        self.slots.set(max(0, total - busy), "free")

    def render(self) -> str:
        self._settle()  # even with none noted: the loop's thread may be counting some
        return prom.render(i.family() for i in (
            self.started, self.finished, self.durations, self.slots, self.claims,
            self.queue_waits, self.journal_writes))
