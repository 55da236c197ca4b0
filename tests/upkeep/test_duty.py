"""The thread every upkeep duty runs on: a pass only while leading, a failed pass logged and
tried again, ``stop`` at once even mid-pause, ``wake`` for an early pass.

Each test waits on events the duty sets, never on a duration; the intervals are an hour
where the test must not depend on one running out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from outlast.upkeep.duty import Duty

HOUR = 3600.0
#: the most a test waits for the duty's thread to do what it was asked
PATIENCE = 10.0

log = logging.getLogger("outlast.tests.duty")


class Recorder(Duty):
    """Counts its passes; each pass does what the test gives it."""

    thread_name = "outlast-test-duty"
    logger = log
    what = "test pass"

    def __init__(self, leading: Callable[[], bool], body: Callable[[int], float | None], *,
                 interval: float = HOUR, idle: float = 0.0) -> None:
        super().__init__(leading, interval=interval, idle=idle)
        self.body = body
        self.passes = 0
        self.passed = threading.Condition()

    def run_once(self) -> float | None:
        with self.passed:
            self.passes += 1
            self.passed.notify_all()
        return self.body(self.passes)

    def wait_passes(self, count: int) -> bool:
        with self.passed:
            return self.passed.wait_for(lambda: self.passes >= count, PATIENCE)


@pytest.fixture
def duties() -> Iterator[list[Duty]]:
    """Every duty a test starts is stopped after it, passed or failed."""
    started: list[Duty] = []
    yield started
    for duty in started:
        duty.stop()


def start(duties: list[Duty], duty: Recorder) -> Recorder:
    duties.append(duty)
    duty.start()
    return duty


def test_a_pass_that_raises_is_logged_with_its_traceback_and_the_thread_goes_on(
        duties: list[Duty], caplog: pytest.LogCaptureFixture) -> None:
    def fail_first(n: int) -> float | None:
        if n == 1:
            raise RuntimeError("the database went away")
        return None

    with caplog.at_level(logging.ERROR, logger=log.name):
        duty = start(duties, Recorder(lambda: True, fail_first, interval=0.01))
        assert duty.wait_passes(2)
    assert duty.running
    [record] = [r for r in caplog.records if r.name == log.name]
    assert record.getMessage().startswith("test pass failed; retrying in")
    assert record.exc_info is not None and "the database went away" in caplog.text


def test_nothing_runs_while_the_process_does_not_lead(duties: list[Duty]) -> None:
    leads = threading.Event()
    asked = threading.Semaphore(0)

    def leading() -> bool:
        asked.release()
        return leads.is_set()

    duty = start(duties, Recorder(leading, lambda n: None, idle=0.001))
    for _ in range(3):  # three turns asked and were told no
        assert asked.acquire(timeout=PATIENCE)
    assert duty.passes == 0
    leads.set()
    assert duty.wait_passes(1)


def test_stop_ends_the_sleep_at_once(duties: list[Duty]) -> None:
    duty = start(duties, Recorder(lambda: True, lambda n: None, interval=HOUR))
    assert duty.wait_passes(1)  # now asleep for an hour
    duty.stop(timeout=PATIENCE)
    assert not duty.running


def test_stop_ends_a_pause_inside_a_pass(duties: list[Duty]) -> None:
    pausing = threading.Event()
    stopping_after: list[bool] = []

    def pause_an_hour(n: int) -> None:
        pausing.set()
        duty.pause(HOUR)
        stopping_after.append(duty.stopping)

    duty = Recorder(lambda: True, pause_an_hour)
    start(duties, duty)
    assert pausing.wait(PATIENCE)
    duty.stop(timeout=PATIENCE)
    assert not duty.running and stopping_after == [True] and duty.passes == 1


def test_wake_runs_the_next_pass_before_the_interval(duties: list[Duty]) -> None:
    duty = start(duties, Recorder(lambda: True, lambda n: None, interval=HOUR))
    assert duty.wait_passes(1)
    duty.wake()
    assert duty.wait_passes(2)


def test_a_pass_chooses_how_soon_the_next_one_runs(duties: list[Duty]) -> None:
    """A pass that left work returns 0: the next runs at once, not an hour later."""
    duty = start(duties, Recorder(lambda: True, lambda n: 0.0 if n < 4 else None))
    assert duty.wait_passes(4)


def test_start_twice_runs_one_thread(duties: list[Duty]) -> None:
    duty = start(duties, Recorder(lambda: True, lambda n: None))
    duty.start()
    assert duty.wait_passes(1)
    names = [t.name for t in threading.enumerate()]
    assert names.count("outlast-test-duty") == 1
