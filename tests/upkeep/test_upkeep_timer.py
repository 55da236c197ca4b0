"""The upkeep holder sleeps until the next due moment, not for a fixed period.

These run on the real clock: what is tested is when the holder wakes. Each holder re-reads
only once a minute and renews its lease once every 100 s, so a prompt wake-up can only
come from the due moment it read, or from one that a writer announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from outlast.clock import SystemClock
from outlast.engine import Engine, waitpoints
from outlast.store import open_store
from outlast.upkeep import Upkeep
from tests.conftest import LEASE_SECONDS
from tests.eventually import eventually

Make = Callable[[], Upkeep]


@pytest.fixture
def live(store_url: str) -> Iterator[Engine]:
    """An engine on the real clock."""
    store = open_store(store_url)
    yield Engine(store, clock=SystemClock(), lease_seconds=LEASE_SECONDS)
    store.close()


@pytest.fixture
def elsewhere(store_url: str) -> Iterator[Engine]:
    """Another process's engine on the same database (its own store and connections)."""
    store = open_store(store_url)
    yield Engine(store, clock=SystemClock(), lease_seconds=LEASE_SECONDS)
    store.close()


@pytest.fixture
def holder(live: Engine) -> Iterator[Make]:
    made: list[Upkeep] = []

    def make() -> Upkeep:
        """A holder that leads, listens, and has read the due moments: it sleeps."""
        upkeep = Upkeep(live, interval=60.0, ttl=300.0)
        passes: list[float] = []
        tick = upkeep.tick

        def counted() -> float:
            passes.append(tick())
            return passes[-1]

        upkeep.tick = counted  # type: ignore[method-assign]
        made.append(upkeep)
        upkeep.start()
        eventually(lambda: len(passes) >= 2)  # took the lease, then listened and read
        assert upkeep.leading
        return upkeep

    yield make
    for upkeep in made:
        upkeep.stop()


def status(engine: Engine, run_id: str) -> str:
    return str(engine.retrieve("dev", run_id)["status"])


def test_a_due_moment_read_before_sleeping_wakes_the_holder(
        live: Engine, register: Any, trigger: Any, holder: Make) -> None:
    register(live, "hello")
    run_id = trigger(live, "hello", delay=timedelta(seconds=1.5)).row["id"]
    holder()
    assert status(live, run_id) == "DELAYED"
    eventually(lambda: status(live, run_id) == "QUEUED")


def test_a_short_delay_written_elsewhere_wakes_the_sleeping_holder(
        live: Engine, elsewhere: Engine, register: Any, trigger: Any, holder: Make) -> None:
    register(live, "hello")
    holder()
    run_id = trigger(elsewhere, "hello", delay=timedelta(milliseconds=300)).row["id"]
    eventually(lambda: status(live, run_id) == "QUEUED")


def test_a_short_sleep_written_elsewhere_is_woken_at_its_time(
        live: Engine, elsewhere: Engine, holder: Make) -> None:
    holder()
    now = elsewhere.clock.now()
    with elsewhere.store.transaction() as tx:
        row = waitpoints.create(tx, environment="dev", kind=waitpoints.TIME, now=now,
                                due_at=now + 0.3)

    def completed() -> bool:
        with live.store.transaction() as tx:
            return waitpoints.get(tx, row["id"])["status"] == waitpoints.COMPLETED

    eventually(completed)
