"""Retry policy: how many attempts and how long to wait between them.

The delay rule is a pure function so the worker, the sweeper and tests agree on it:
delay before attempt n+1 = min(max_delay, min_delay * factor ** (n - 1)), then, when
``randomize`` is on, multiplied by a random factor in [0.75, 1.25] (and capped again):
``outlast.core.backoff`` with the policy's numbers.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import Any

from outlast.core.backoff import EXACT, backoff
from outlast.errors import ValidationError


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 3
    factor: float = 2.0
    min_delay: float = 1.0
    max_delay: float = 30.0
    randomize: bool = True
    out_of_memory_machine: str | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValidationError("Retry.max_attempts must be at least 1")
        if self.min_delay < 0 or self.max_delay < 0 or self.factor < 1:
            raise ValidationError("Retry delays must be >= 0 and factor >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Retry:
        return cls(**(data or {}))


@dataclass(frozen=True)
class RetryDecision:
    """What ``handle_error`` may return: retry after ``delay`` seconds, or not at all."""

    retry: bool
    delay: float | None = None

    @classmethod
    def skip(cls) -> RetryDecision:
        return cls(retry=False)

    @classmethod
    def after(cls, seconds: float) -> RetryDecision:
        return cls(retry=True, delay=seconds)


#: a randomized policy waits between 75% and 125% of its delay (never over ``max_delay``)
JITTER = (0.75, 1.25)


def retry_delay(policy: Retry, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    delay = backoff(attempt, first=policy.min_delay, factor=policy.factor,
                    most=policy.max_delay, jitter=JITTER if policy.randomize else EXACT, rng=rng)
    return min(policy.max_delay, delay)
