"""Whoever holds the ``sweeper`` lease does all of upkeep: a worker that leads fires cron
ticks and sends failure alerts, and a server started after it does nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine
from outlast.engine.alerts import SETTLE_SECONDS, Alerts
from outlast.server.scheduler import Scheduler
from tests.conftest import T0
from tests.eventually import eventually
from tests.realtime.test_alerts import Receiver
from tests.worker.support import running_worker, trigger, wait_final


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def schedule_runs(engine: Engine, schedule_id: str) -> int:
    return sum(1 for t in engine.schedules.ticks("dev", schedule_id)
               if t["status"] == "fired")


def test_a_worker_that_leads_first_fires_ticks_and_sends_alerts(
        engine: Engine, clock: FakeClock, receiver: Receiver) -> None:
    clock.set(T0 + 58.5)  # the every-minute schedule is due 1.5 s (of fake time) from now
    alerts = Alerts(engine)
    alerts.set_webhook("dev", receiver.url)
    alerts.enqueue()  # the alert cursor starts here
    with running_worker(engine, concurrency=1) as worker:
        eventually(lambda: worker.sweeper.leading)
        server = Scheduler(engine, interval=0.01)
        server.start()
        try:
            schedule, _ = engine.schedules.create("dev", task="hello-world",
                                               cron_text="* * * * *")
            failed = trigger(engine, "aborts")
            assert wait_final(engine, failed)["status"] == "FAILED"
            clock.advance(SETTLE_SECONDS)  # due: the tick, and the alert's settled event
            eventually(lambda: schedule_runs(engine, schedule["id"]) == 1)
            eventually(lambda: len(receiver.requests) == 1)
            assert worker.sweeper.leading and not server.leading
        finally:
            server.stop()
    assert len(receiver.requests) == 1 and schedule_runs(engine, schedule["id"]) == 1


def test_when_the_holder_dies_another_takes_over_within_the_ttl(
        engine: Engine, clock: FakeClock) -> None:
    assert engine.try_lead("sweeper", "a-worker-that-dies", 10.0)  # and never renews
    server = Scheduler(engine, interval=0.01)
    server.tick()
    assert not server.leading
    clock.advance(10.5)  # the lease ran out
    server.start()
    try:
        eventually(lambda: server.leading)
    finally:
        server.stop()
