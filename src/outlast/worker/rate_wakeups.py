"""Rate wake-ups: claiming again the moment a rate limit's window frees, not on the poll.

A claim that a rate limit held back says when the rate's window frees (``Claimed.retry_at``,
on the engine's clock). The supervisor claims again then rather than on its poll, so a
"10/s" queue starts its runs as the window allows, not in lumps a poll apart. Only time
frees a window (another worker's starts never do), so this timer is all a worker needs.

Two margins keep it honest: ``RATE_WAKE_LAG`` after the window's end, so the start that
leaves the window is surely out of it when the claim looks; and ``RATE_WAKE_GAP`` at least
between the claim and the wake-up, so a hint already in the past, or budget that another
worker took first, cannot turn into a busy loop.

The arithmetic is pure (``wake_at``, ``next_wake``); ``RateWakeups`` keeps the one pending
moment, in the supervisor's monotonic time.
"""

from __future__ import annotations

import time

from outlast.clock import Clock
from outlast.engine.dequeue import Claimed

#: seconds at least between two claims woken by a rate window (a cap on such wake-ups)
RATE_WAKE_GAP = 0.02
#: seconds after a window frees to claim, so the leaving start is surely out of it
RATE_WAKE_LAG = 0.002


def wake_at(retry_at: float | None, clock_now: float, now: float,
            claimed_at: float) -> float | None:
    """``retry_at`` (engine clock, read as ``clock_now``) as a monotonic moment (``now``
    being the monotonic time), never sooner than ``RATE_WAKE_GAP`` after the claim made at
    ``claimed_at``: a past hint must not spin the loop."""
    if retry_at is None:
        return None
    delay = retry_at - clock_now
    return max(now + delay + RATE_WAKE_LAG, claimed_at + RATE_WAKE_GAP)


def next_wake(hint: float | None, took_any: bool, pending: float | None,
              now: float) -> float | None:
    """The claim's hint; a claim that took nothing and says nothing keeps a wake-up still
    ahead (it may have looked only at runs that wait for something else)."""
    if hint is None and not took_any and pending is not None and pending > now:
        return pending
    return hint


class RateWakeups:
    """When the supervisor claims again because a rate window frees (None: no such moment)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        #: monotonic time at which a rate window frees
        self.at: float | None = None

    def next_due(self) -> float | None:
        return self.at

    def due(self, now: float) -> bool:
        return self.at is not None and now >= self.at

    def after_claim(self, claimed: Claimed, claimed_at: float) -> None:
        """A claim made at ``claimed_at`` (monotonic) answered: when to claim again."""
        now = time.monotonic()
        hint = wake_at(claimed.retry_at, self.clock.now(), now, claimed_at)
        self.at = next_wake(hint, bool(claimed.rows), self.at, now)
