"""retry_delay: min(max_delay, min_delay * factor ** (n - 1)), jittered within ±25% when asked."""

from __future__ import annotations

import random

import pytest

from outlast.core.retry import Retry, retry_delay
from outlast.errors import ValidationError

EXACT = [
    # (min_delay, factor, max_delay, attempt, expected)
    (1.0, 2.0, 30.0, 1, 1.0),
    (1.0, 2.0, 30.0, 2, 2.0),
    (1.0, 2.0, 30.0, 3, 4.0),
    (1.0, 2.0, 30.0, 5, 16.0),
    (1.0, 2.0, 30.0, 6, 30.0),  # 32 capped
    (1.0, 2.0, 30.0, 60, 30.0),  # huge exponent stays capped
    (0.5, 3.0, 100.0, 3, 4.5),
    (2.0, 1.0, 10.0, 7, 2.0),  # factor 1: constant
    (0.0, 2.0, 10.0, 4, 0.0),  # no delay at all
    (5.0, 2.0, 3.0, 1, 3.0),  # max below min: max wins
]


@pytest.mark.parametrize(("min_delay", "factor", "max_delay", "attempt", "expected"), EXACT)
def test_delay_without_jitter(
    min_delay: float, factor: float, max_delay: float, attempt: int, expected: float
) -> None:
    policy = Retry(min_delay=min_delay, factor=factor, max_delay=max_delay, randomize=False)
    assert retry_delay(policy, attempt) == pytest.approx(expected)


@pytest.mark.parametrize(("attempt", "base"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0)])
def test_jitter_stays_within_a_quarter_of_the_base(attempt: int, base: float) -> None:
    policy = Retry(min_delay=1.0, factor=2.0, max_delay=30.0, randomize=True)
    rng = random.Random(attempt)
    delays = [retry_delay(policy, attempt, rng) for _ in range(500)]
    assert all(0.75 * base <= d <= min(30.0, 1.25 * base) for d in delays)
    assert len(set(delays)) > 1  # it really is random


def test_jitter_never_exceeds_max_delay() -> None:
    policy = Retry(min_delay=1.0, factor=2.0, max_delay=30.0, randomize=True)
    rng = random.Random(7)
    delays = [retry_delay(policy, 6, rng) for _ in range(500)]
    assert all(22.5 <= d <= 30.0 for d in delays)


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    policy = Retry(randomize=True)
    assert retry_delay(policy, 3, random.Random(1)) == retry_delay(policy, 3, random.Random(1))


def test_default_policy_matches_the_contract() -> None:
    assert Retry() == Retry(max_attempts=3, factor=2.0, min_delay=1.0, max_delay=30.0,
                            randomize=True)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"max_attempts": -1}, {"min_delay": -1.0}, {"max_delay": -0.5},
     {"factor": 0.5}],
)
def test_bad_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Retry(**kwargs)  # type: ignore[arg-type]


def test_policy_round_trips_through_a_dict() -> None:
    policy = Retry(max_attempts=5, factor=3.0, min_delay=0.5, max_delay=9.0, randomize=False,
                   out_of_memory_machine="large-1x")
    assert Retry.from_dict(policy.to_dict()) == policy
    assert Retry.from_dict(None) == Retry()
