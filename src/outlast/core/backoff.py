"""The one exponential backoff: how long to wait after the n-th failure in a row.

Every part that tries again uses it with its own numbers (task retries, the HTTP client,
realtime reconnects, alert deliveries, upkeep passes, platform hand-backs), so the rule
is written and tested once (``tests/unit/test_backoff.py``):

    delay = min(most, first * factor ** (failures - 1)) * uniform(*jitter)

The jitter is applied after the cap, as dramatiq's ``compute_backoff`` does: many clients
that failed together spread out instead of retrying in step, even once they all reached
the cap. A caller that must never wait longer than ``most`` caps the result again.
Nothing here imports the rest of Outlast: every layer may use it.
"""

from __future__ import annotations

import math
import random

#: no jitter: the delay itself
EXACT = (1.0, 1.0)


def backoff(failures: int, *, first: float, factor: float = 2.0, most: float = math.inf,
            jitter: tuple[float, float] = EXACT, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` (1 or more) failures in a row.

    ``first`` after the first, ``factor`` times longer after each next one, at most
    ``most``; then multiplied by a factor drawn uniformly from ``jitter``.
    """
    delay = min(most, _grown(first, factor, failures - 1))
    if jitter != EXACT:
        delay *= (rng or random).uniform(*jitter)
    return float(delay)


def _grown(first: float, factor: float, times: int) -> float:
    """``first * factor ** times``; a growth past what a float holds is infinite (the cap
    then applies) instead of an ``OverflowError`` after a long outage."""
    try:
        return first * factor ** times
    except OverflowError:
        return math.inf if first else 0.0
