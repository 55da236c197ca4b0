"""``outlast worker --exit-when-drained``: a worker that stops once its version is drained.

During a deploy the workers of the old version keep serving the runs pinned to it (only
they can resume or retry them). Once that version is no longer current and no unfinished
run is pinned to it, nothing needs them: started with ``--exit-when-drained`` they stop
on their own, gracefully, rather than waiting for someone to check and stop them.

The check is one small read every few seconds (``CHECK_SECONDS``) from the supervisor's
database work, never on the path from a claim to a run starting. It starts once the
worker's tasks are registered (its version with them), so a worker never leaves before
it has said which version it runs.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from outlast.engine import Engine

log = logging.getLogger("outlast.worker")

#: seconds between two checks of whether the worker's version is drained
CHECK_SECONDS = 5.0


class DrainWatch:
    """Says, every ``interval`` seconds, whether the worker's version is drained."""

    def __init__(self, engine: Engine, environment: str,
                 version: Callable[[], str | None], interval: float = CHECK_SECONDS) -> None:
        self.engine = engine
        self.environment = environment
        #: the worker's version, read at each check; None while there is nothing to check
        #: (its tasks not yet registered, or it is stopping anyway)
        self.version = version
        self.interval = interval
        self.last = float("-inf")
        #: checks made so far (tests wait on it)
        self.checks = 0

    def next_due(self) -> float:
        """When the supervisor's loop should wake for the next check (never: no version)."""
        return math.inf if self.version() is None else self.last + self.interval

    def drained(self) -> bool:
        """True once the version is drained (checked only when due): the worker stops."""
        now = time.monotonic()
        version = self.version()
        if version is None or now < self.next_due():
            return False
        self.last = now
        self.checks += 1
        if not self.engine.drained(self.environment, version):
            return False
        log.info("version %s is drained: no runs are pinned to it; stopping", version)
        return True
