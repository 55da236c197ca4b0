"""Retry policy: how many attempts and how long to wait between them.

The delay rule is a pure function so the worker, the sweeper and tests agree on it:
delay before attempt n+1 = min(max_delay, min_delay * factor ** (n - 1)), then, when
``randomize`` is on, multiplied by a random factor in [0.75, 1.25] (and capped again):
``outlast.core.backoff`` with the policy's numbers.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import cache
from typing import Any

from outlast.core.backoff import EXACT, backoff
from outlast.errors import ValidationError
from outlast.jsonutil import dumps
from outlast.machines import machine as check_machine


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

    def to_json(self) -> str:
        """The fields that differ from the defaults, as JSON text (``{}`` for the default
        policy), made once per policy: every new run's row holds it, and ``from_dict``
        reads it back whole. Its 110 characters were a third of a queued run's row, and
        loading runs in bulk took 1.15 times as long with them (``bench/bulk_interleaved``).
        So the defaults are part of what is stored: changing one changes the policy of
        every run stored before (``tests/unit/test_retry_stored.py`` holds them)."""
        return _policy_json(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Retry:
        return cls(**(data or {}))


@cache
def _policy_json(policy: Retry) -> str:
    return dumps({name: value for name, value in policy.to_dict().items()
                  if value != _DEFAULT_FIELDS[name]})


#: the default policy's fields, left out of a stored policy (``Retry.to_json``)
_DEFAULT_FIELDS = Retry().to_dict()


@dataclass(frozen=True)
class RetryDecision:
    """What ``handle_error`` may return to change what the failed attempt leads to.

    ``retry=False``: no further attempt (the run fails now). Else the next attempt comes
    after ``delay`` seconds, or at ``at`` (an aware datetime), or when the retry policy
    says (neither given); on machine preset ``machine`` when given (and from then on). A
    retry never goes past the run's ``max_attempts``.
    """

    retry: bool
    delay: float | None = None
    at: datetime | None = None
    machine: str | None = None

    def __post_init__(self) -> None:
        if self.delay is not None and (not isinstance(self.delay, int | float)
                                       or self.delay < 0):
            raise ValidationError(f"RetryDecision.delay must be seconds >= 0, got {self.delay!r}")
        if self.at is not None and (not isinstance(self.at, datetime) or self.at.tzinfo is None):
            raise ValidationError("RetryDecision.at must be a timezone-aware datetime")
        if self.delay is not None and self.at is not None:
            raise ValidationError("RetryDecision takes a delay or a time (at), not both")
        if self.machine is not None:
            check_machine(self.machine)
        if not self.retry and (self.delay, self.at, self.machine) != (None, None, None):
            raise ValidationError("RetryDecision(retry=False) takes no delay, time or machine")

    @classmethod
    def skip(cls) -> RetryDecision:
        """Do not retry: the run fails with this attempt's error."""
        return cls(retry=False)

    @classmethod
    def after(cls, seconds: float, *, machine: str | None = None) -> RetryDecision:
        """Retry after ``seconds`` (on preset ``machine`` when given)."""
        return cls(retry=True, delay=seconds, machine=machine)

    @classmethod
    def at_time(cls, when: datetime, *, machine: str | None = None) -> RetryDecision:
        """Retry at ``when``, an aware datetime (a past time: at once)."""
        return cls(retry=True, at=when, machine=machine)

    @classmethod
    def on_machine(cls, machine: str) -> RetryDecision:
        """Retry when the policy says, on machine preset ``machine``."""
        return cls(retry=True, machine=machine)

    def timestamp(self) -> float | None:
        """``at`` as seconds since the epoch (None without one)."""
        return None if self.at is None else self.at.timestamp()


#: a randomized policy waits between 75% and 125% of its delay (never over ``max_delay``)
JITTER = (0.75, 1.25)


def retry_delay(policy: Retry, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    delay = backoff(attempt, first=policy.min_delay, factor=policy.factor,
                    most=policy.max_delay, jitter=JITTER if policy.randomize else EXACT, rng=rng)
    return min(policy.max_delay, delay)
