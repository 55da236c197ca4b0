"""When a worker claims again because a rate window frees: the arithmetic, pure."""

from __future__ import annotations

import time

import pytest

from outlast.clock import FakeClock
from outlast.engine.dequeue import Claimed
from outlast.worker.rate_wakeups import (
    RATE_WAKE_GAP,
    RATE_WAKE_LAG,
    RateWakeups,
    next_wake,
    wake_at,
)

# the engine's clock reads 1000.0 when the monotonic clock reads 50.0; the claim was at 49.999
CLOCK, NOW, CLAIMED = 1000.0, 50.0, 49.999


@pytest.mark.parametrize(("retry_at", "wake"), [
    (None, None),                                    # no rate held anything back
    (1000.5, NOW + 0.5 + RATE_WAKE_LAG),             # the window frees in half a second
    (1000.0, CLAIMED + RATE_WAKE_GAP),               # frees now: not sooner than the gap
    (990.0, CLAIMED + RATE_WAKE_GAP),                # a hint in the past must not spin
    (1000.01, CLAIMED + RATE_WAKE_GAP),              # within the gap: the gap holds
    (1000.05, NOW + 0.05 + RATE_WAKE_LAG),           # past the gap: the hint holds
])
def test_a_claims_hint_becomes_a_monotonic_wake_up(retry_at: float | None,
                                                   wake: float | None) -> None:
    got = wake_at(retry_at, CLOCK, NOW, CLAIMED)
    assert got == (None if wake is None else pytest.approx(wake))


@pytest.mark.parametrize(("hint", "took_any", "pending", "wake"), [
    (51.0, False, None, 51.0),   # the claim's hint wins
    (51.0, True, 52.0, 51.0),
    (51.0, False, 52.0, 51.0),
    (None, True, 52.0, None),    # it took runs and says nothing: no rate holds it back
    (None, False, 52.0, 52.0),   # took nothing, said nothing: the wake-up ahead is kept
    (None, False, 49.0, None),   # ... unless it already passed
    (None, False, NOW, None),
    (None, False, None, None),
])
def test_a_claim_that_says_nothing_keeps_a_wake_up_still_ahead(
        hint: float | None, took_any: bool, pending: float | None, wake: float | None) -> None:
    assert next_wake(hint, took_any, pending, NOW) == wake


def test_the_wake_up_follows_the_claims_and_is_due_once_its_moment_passes() -> None:
    clock = FakeClock(CLOCK)
    wakeups = RateWakeups(clock)
    assert wakeups.next_due() is None and not wakeups.due(time.monotonic())
    claimed_at = time.monotonic()
    wakeups.after_claim(Claimed([], retry_at=CLOCK + 60.0), claimed_at)
    at = wakeups.next_due()
    assert at is not None and at > claimed_at + 59.0
    assert not wakeups.due(time.monotonic()) and wakeups.due(at)
    wakeups.after_claim(Claimed([]), time.monotonic())  # nothing taken, nothing said: kept
    assert wakeups.next_due() == at
    wakeups.after_claim(Claimed([{"id": "r1"}]), time.monotonic())  # runs came, no hint
    assert wakeups.next_due() is None
