"""One injectable clock for the engine, scheduler and sweeper.

Every piece of code that decides "is it due yet" reads time from a ``Clock`` so that
tests (ours, and users' through ``outlast.testing``) can move time forward instead of
sleeping. Times are float seconds since the epoch, which both stores keep as numbers.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that moves only when told to; thread-safe."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


def to_datetime(ts: float | None) -> datetime | None:
    """Epoch seconds to an aware UTC datetime (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)
