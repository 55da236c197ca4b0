"""The scheduler thread: sweeps while it holds the ``sweeper`` lease, and never dies."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine
from outlast.server.scheduler import MAX_BACKOFF, Scheduler, backoff, holder_id

Wait = Callable[..., None]
Make = Callable[..., Scheduler]


@pytest.fixture
def schedulers(engine: Engine) -> Iterator[Make]:
    """``make(**kwargs)`` → a started Scheduler over ``engine``; all stopped at teardown."""
    made: list[Scheduler] = []

    def make(**kwargs: Any) -> Scheduler:
        made.append(Scheduler(engine, **kwargs))
        made[-1].start()
        return made[-1]

    yield make
    for s in made:
        s.stop()


def status(engine: Engine, run_id: str) -> str:
    return str(engine.retrieve("dev", run_id)["status"])


def test_delayed_run_becomes_queued(engine: Engine, clock: FakeClock, register: Any,
                                    trigger: Any, schedulers: Make, eventually: Wait) -> None:
    register(engine, "hello")
    run_id = trigger(engine, "hello", delay="2s").row["id"]
    assert status(engine, run_id) == "DELAYED"
    scheduler = schedulers()
    eventually(lambda: scheduler.leading)
    assert status(engine, run_id) == "DELAYED"  # not due yet
    clock.advance(3)
    eventually(lambda: status(engine, run_id) == "QUEUED")


def test_only_one_of_two_schedulers_leads(schedulers: Make, eventually: Wait) -> None:
    first, second = schedulers(ttl=0.3), schedulers(ttl=0.3)
    eventually(lambda: first.leading or second.leading)
    for _ in range(20):  # a few renewal periods: never both, never neither for long
        assert not (first.leading and second.leading)
        threading.Event().wait(0.02)
    leader, follower = (first, second) if first.leading else (second, first)
    leader.stop()  # hands the lease back
    eventually(lambda: follower.leading)
    assert not leader.leading


def test_survives_errors_and_keeps_sweeping(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture,
                                            schedulers: Make, eventually: Wait) -> None:
    real_sweep = engine.sweep
    calls = {"failed": 0, "ok": 0}

    def flaky(**options: Any) -> Any:
        if calls["failed"] < 1:
            calls["failed"] += 1
            raise ConnectionError("server closed the connection unexpectedly")
        calls["ok"] += 1
        return real_sweep(**options)

    monkeypatch.setattr(engine, "sweep", flaky)
    with caplog.at_level(logging.ERROR, "outlast.scheduler"):
        scheduler = schedulers()
        eventually(lambda: calls["ok"] >= 2)
    assert scheduler.running
    assert "server closed the connection unexpectedly" in caplog.text


def test_lease_errors_drop_leadership_until_the_store_answers(
        engine: Engine, monkeypatch: pytest.MonkeyPatch,
        schedulers: Make, eventually: Wait) -> None:
    down = threading.Event()
    down.set()
    real = engine.try_lead
    refused = [0]

    def try_lead(*args: Any) -> bool:
        if down.is_set():
            refused[0] += 1
            raise ConnectionError("database is starting up")
        return real(*args)

    monkeypatch.setattr(engine, "try_lead", try_lead)
    scheduler = schedulers()
    eventually(lambda: refused[0] >= 2)  # it tried again after an error: the thread lives
    assert not scheduler.leading and scheduler.running
    down.clear()
    eventually(lambda: scheduler.leading)


def test_stop_is_prompt_and_releases_the_lease(engine: Engine,
                                               schedulers: Make, eventually: Wait) -> None:
    scheduler = schedulers(interval=60.0)
    eventually(lambda: scheduler.leading)
    started = time.monotonic()
    scheduler.stop()
    assert time.monotonic() - started < 2.0
    assert not scheduler.running
    assert engine.try_lead("sweeper", "someone-else", 10.0)


def test_holder_ids_are_unique() -> None:
    assert holder_id() != holder_id()


@pytest.mark.parametrize(("failures", "expected"),
                         [(1, 0.5), (2, 1.0), (3, 2.0), (20, MAX_BACKOFF)])
def test_backoff(failures: int, expected: float) -> None:
    assert backoff(failures, 0.1) == expected


def test_recovers_when_postgres_drops_its_connections(
        engine: Engine, store_url: str, clock: FakeClock, register: Any, trigger: Any,
        schedulers: Make, eventually: Wait, caplog: pytest.LogCaptureFixture) -> None:
    """A server restart looks like this to the pool: every connection dies at once."""
    if not store_url.startswith("postgresql"):
        pytest.skip("connections to kill are a PostgreSQL matter")
    register(engine, "hello")
    scheduler = schedulers()
    eventually(lambda: scheduler.leading)
    with psycopg.connect(store_url, autocommit=True) as admin:
        killed = [r[0] for r in admin.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")]
        # pg_terminate_backend only signals; a restart is over before anyone reconnects
        eventually(lambda: not admin.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", (killed,)).fetchone())
    run_id = trigger(engine, "hello", delay="1s").row["id"]
    clock.advance(2)
    eventually(lambda: status(engine, run_id) == "QUEUED")
    assert scheduler.running
