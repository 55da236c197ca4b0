"""The pruner: a thread beside the upkeep loop that deletes runs whose retention is over.

Like the alert sender it works only while its process holds the upkeep lease, so one
process prunes, and it has its own thread so a long backlog never delays a due wake-up.
A pass prunes every environment with runs, at most ``batches`` batches of ``batch_size``
runs each, pausing between batches so other writers get the database in turn; it comes
back after ``interval`` (``OUTLAST_RETENTION_INTERVAL``, 5 minutes) when it finished, or
after ``BACKLOG_PAUSE`` when it stopped at its budget with runs still due. Each
environment's pass is recorded (``retention_status``: ``outlast prune --dry-run`` shows
it) and logged at INFO when it deleted something.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from outlast.engine import Engine
from outlast.engine.pruning import BATCH_SIZE, Cursors, PruneLimits, PruneReport
from outlast.upkeep.duty import Duty

log = logging.getLogger("outlast.retention")

#: seconds until the first pass of a process, and between looks while not leading
FIRST_PASS = 10.0
#: seconds until the next pass when one stopped at its budget
BACKLOG_PAUSE = 1.0
#: seconds between two batches of one pass
BATCH_PAUSE = 0.05
#: batches one pass deletes at most, per environment
PASS_BATCHES = 20
#: seconds between two looks for orphaned blobs
ORPHAN_PASS = 3600.0


class Pruner(Duty):
    thread_name = "outlast-pruner"
    logger = log
    what = "retention pass"

    def __init__(self, engine: Engine, leading: Callable[[], bool], *,
                 interval: float | None = None, first_pass: float = FIRST_PASS,
                 batch_size: int = BATCH_SIZE, batches: int = PASS_BATCHES) -> None:
        super().__init__(leading, idle=first_pass, interval=(
            engine.settings.retention_interval if interval is None else interval))
        self.engine = engine
        self._limits = PruneLimits(batch_size=batch_size, budget=batch_size * batches,
                                   pause=lambda: self.pause(BATCH_PAUSE))
        #: where each (environment, task, status) scan resumes, kept between passes
        self._cursors: Cursors = {}
        #: when orphaned blobs were last looked for (``RetentionOps.orphans``); -inf: never
        self._orphans_at = -math.inf

    def run_once(self) -> float | None:
        """A pass; back after ``BACKLOG_PAUSE`` rather than ``interval`` when one stopped
        at its budget with runs still due."""
        done = all(r.complete for r in self.prune_once())
        return None if done else BACKLOG_PAUSE

    def prune_once(self) -> list[PruneReport]:
        """One pass over every environment; returns what it deleted in each."""
        reports = []
        for env in self.engine.retention.environments():
            if self.stopping:
                break
            report = self.engine.retention.prune(env, limits=self._limits,
                                                 cursors=self._cursors)
            self.engine.retention.record(report)
            _log(report)
            reports.append(report)
        self._collect_orphans()
        return reports

    def _collect_orphans(self) -> None:
        """Blobs whose run never committed or was pruned without them, once an hour (a
        bucket is listed to find them: not on every pass)."""
        now = self.engine.clock.now()
        if now - self._orphans_at < ORPHAN_PASS or self.stopping:
            return
        self._orphans_at = now
        if deleted := self.engine.retention.orphans():
            log.info("retention: deleted the blobs of %d run(s) that no longer exist", deleted)


def _log(report: PruneReport) -> None:
    if not report.runs:
        log.debug("retention: nothing to delete in environment %r", report.environment)
        return
    log.info("retention: deleted %d run(s) and %d other row(s) in environment %r "
             "(%d batch(es)%s)", report.runs, report.total - report.runs, report.environment,
             report.batches, "" if report.complete else "; more next pass")
