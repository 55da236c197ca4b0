"""``outlast worker --exit-when-drained``: a real worker of an old version stays while a
run pinned to it waits, and stops on its own once that run is done (both stores)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from outlast.worker.drain import DrainWatch
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.versions.support import add_version, pin
from tests.worker.support import PROJECT, registered, trigger, wait_final


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


@pytest.fixture
def worker_v1(live_engine: Engine) -> Iterator[tuple[Supervisor, threading.Thread]]:
    """A worker of version v1 (current) started with ``exit_when_drained``, checking
    every 50 ms."""
    add_version(live_engine, "v1", ["hello-world"])
    sup = Supervisor(live_engine, environment="dev", task_dirs=["tasks"], root=PROJECT,
                     concurrency=1, grace=5, version="v1", exit_when_drained=True)
    assert sup.drain is not None
    sup.drain.interval = 0.05
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    eventually(lambda: registered(live_engine, "hello-world"), 30, "task registration")
    yield sup, thread
    if thread.is_alive():  # the test failed: stop it anyway
        sup.request_stop()
        thread.join(30)


def _checks_pass(sup: Supervisor, thread: threading.Thread, more: int = 3) -> None:
    """Wait until the worker has checked ``more`` more times; it must still be running."""
    assert sup.drain is not None
    target = sup.drain.checks + more
    eventually(lambda: sup.drain is not None and sup.drain.checks >= target, 30,
               "the worker to check whether its version is drained")
    assert thread.is_alive()


def test_the_worker_of_an_old_version_stops_once_its_last_pinned_run_is_done(
        live_engine: Engine, worker_v1: tuple[Supervisor, threading.Thread],
        caplog: pytest.LogCaptureFixture) -> None:
    sup, thread = worker_v1
    caplog.set_level(logging.INFO, logger="outlast.worker")
    waiting = trigger(live_engine, "hello-world", {"name": "Ada"}, delay="1h")
    pin(live_engine, waiting, "v1")
    _checks_pass(sup, thread)  # v1 is current: it stays

    add_version(live_engine, "v2", ["hello-world"])
    _checks_pass(sup, thread)  # v2 is current, but a run pinned to v1 waits for it

    live_engine.reschedule("dev", waiting, time.time())  # the run's time has come
    assert wait_final(live_engine, waiting)["status"] == "COMPLETED"
    thread.join(30)
    assert not thread.is_alive(), "the worker did not stop once its version was drained"
    assert "version v1 is drained: no runs are pinned to it; stopping" in caplog.text
    assert live_engine.list_workers("dev") == []  # it said it stopped


class _Engine:
    """Answers ``drained`` as told and counts the questions."""

    def __init__(self) -> None:
        self.answer = False
        self.asked = 0

    def drained(self, env: str, version: str) -> bool:
        self.asked += 1
        return self.answer


def test_the_check_is_made_only_when_due_and_only_with_a_version() -> None:
    engine = _Engine()
    version: list[str | None] = [None]
    watch = DrainWatch(engine, "dev", lambda: version[0], interval=3600)  # type: ignore[arg-type]
    assert not watch.drained() and watch.next_due() == float("inf")  # not registered yet
    version[0] = "v1"
    assert not watch.drained()
    assert not watch.drained()  # not due again for an hour
    engine.answer = True
    assert not watch.drained()
    assert (engine.asked, watch.checks) == (1, 1)
    watch.interval = 0
    assert watch.drained()
