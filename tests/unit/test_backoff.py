"""The one backoff, with the numbers of each part that uses it: the same delays and jitter
bounds those parts had when each computed its own."""

from __future__ import annotations

import random
from typing import Any

import pytest

from outlast.core.backoff import backoff
from outlast.engine import alerts, attempts
from outlast.sdk import realtime, transports
from outlast.upkeep import leader

ALERTS = {"first": 10.0, "most": 3600.0}
UPKEEP = {"first": 0.5, "most": leader.MAX_BACKOFF}  # an interval under half a second
PLATFORM = {"first": 1.0, "most": attempts.MAX_PLATFORM_BACKOFF}
RETRY = {"first": 1.0, "factor": 2.0, "most": 30.0}  # ``Retry()``, before its jitter
HTTP = {"first": transports.RETRY_BACKOFF}

EXACT = [
    # (failures, numbers, delay)
    (1, ALERTS, 10.0), (2, ALERTS, 20.0), (9, ALERTS, 2560.0), (10, ALERTS, 3600.0),
    (1, UPKEEP, 0.5), (2, UPKEEP, 1.0), (3, UPKEEP, 2.0), (20, UPKEEP, 30.0),
    (1, PLATFORM, 1.0), (6, PLATFORM, 32.0), (7, PLATFORM, 60.0),
    (1, RETRY, 1.0), (5, RETRY, 16.0), (6, RETRY, 30.0),
    (1, HTTP, 0.2), (4, HTTP, 1.6), (9, HTTP, 51.2),  # no cap: four tries at most
    (7, {"first": 2.0, "factor": 1.0}, 2.0),  # factor 1: constant
    (4, {"first": 0.0, "most": 10.0}, 0.0),  # no delay at all
    (1, {"first": 5.0, "most": 3.0}, 3.0),  # a cap below the first delay wins
    (5000, {"first": 1.0, "most": 30.0}, 30.0),  # a long outage: capped, no overflow
    (5000, {"first": 1.0, "factor": 10.0, "most": 30.0}, 30.0),
    (5000, {"first": 0.0, "factor": 10.0, "most": 30.0}, 0.0),
]


@pytest.mark.parametrize(("failures", "numbers", "delay"), EXACT)
def test_exact_delays(failures: int, numbers: dict[str, float], delay: float) -> None:
    assert backoff(failures, **numbers) == pytest.approx(delay)


class Edge(random.Random):
    """An rng whose ``uniform`` always answers one end of the range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


REALTIME = {"first": realtime.BACKOFF, "most": realtime.MAX_BACKOFF, "jitter": (0.5, 1.5)}
JITTERED = [
    # (failures, numbers, lowest, highest)
    (1, REALTIME, 0.125, 0.375),
    (3, REALTIME, 0.5, 1.5),
    (10, REALTIME, 2.5, 7.5),  # jitter after the cap: reconnects spread out even there
    (1, {**HTTP, "jitter": (0.5, 1.5)}, 0.1, 0.3),
    (4, {**HTTP, "jitter": (0.5, 1.5)}, 0.8, 2.4),
    (6, {**RETRY, "jitter": (0.75, 1.25)}, 22.5, 37.5),  # retry_delay caps it again
]


@pytest.mark.parametrize(("failures", "numbers", "lowest", "highest"), JITTERED)
def test_jitter_bounds(failures: int, numbers: dict[str, Any], lowest: float,
                       highest: float) -> None:
    assert backoff(failures, **numbers, rng=Edge(high=False)) == pytest.approx(lowest)
    assert backoff(failures, **numbers, rng=Edge(high=True)) == pytest.approx(highest)
    draws = [backoff(failures, **numbers, rng=random.Random(i)) for i in range(200)]
    assert all(lowest <= d <= highest for d in draws) and len(set(draws)) > 1


def seeded(fn: Any, *args: Any) -> float:
    """``fn(*args)`` with the module-level ``random`` seeded, its state put back after."""
    state = random.getstate()
    random.seed(42)
    try:
        return float(fn(*args))
    finally:
        random.setstate(state)


@pytest.mark.parametrize("attempt", [0, 1, 3])
def test_the_http_client_draws_what_it_drew_before(attempt: int) -> None:
    def before(n: int) -> float:
        return float(transports.RETRY_BACKOFF * 2 ** n * (0.5 + random.random()))

    assert seeded(transports.retry_delay, attempt) == seeded(before, attempt)


@pytest.mark.parametrize("failures", [1, 4, 12])
def test_realtime_reconnects_draw_what_they_drew_before(failures: int) -> None:
    def before(n: int) -> float:
        return float(min(realtime.MAX_BACKOFF, realtime.BACKOFF * 2 ** (n - 1))
                     * (0.5 + random.random()))

    assert seeded(realtime.reconnect_delay, failures) == seeded(before, failures)


@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_the_users_keep_their_numbers(n: int) -> None:
    assert alerts.retry_delay(n) == min(3600.0, 10.0 * 2 ** (n - 1))
    assert leader.backoff(n, 2.0) == min(leader.MAX_BACKOFF, 2.0 * 2.0 ** (n - 1))
    assert attempts.platform_backoff(n - 1) == min(attempts.MAX_PLATFORM_BACKOFF,
                                                    2.0 ** (n - 1))

