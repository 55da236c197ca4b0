"""Firing schedules through the fake clock, on both stores: one run per tick, no back-fill."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import psycopg
import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.sdk.schedule_records import ScheduledPayload
from outlast.store import open_store
from tests.conftest import LEASE_SECONDS, T0

ENV = "dev"
DAY = 86_400


@pytest.fixture
def report(engine: Engine, register: Any) -> None:
    register(engine, "report")


def scheduled_runs(engine: Engine, task: str = "report") -> list[dict[str, Any]]:
    runs, cursor = engine.list_runs(ENV, task=task, limit=1000)
    assert cursor is None
    return sorted(runs, key=lambda r: r["payload"]["timestamp"])


def run_for(engine: Engine, clock: FakeClock, seconds: float, step: float = 60) -> int:
    """Advance the clock ``step`` at a time for ``seconds``, ticking after each step."""
    fired = 0
    for _ in range(int(seconds // step)):
        clock.advance(step)
        fired += len(engine.schedules.tick().fired)
    return fired


@pytest.mark.usefixtures("report")
def test_a_day_of_five_minute_ticks_makes_exactly_288_runs(engine: Engine,
                                                           clock: FakeClock) -> None:
    made, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *",
                                      external_id="user-17")
    assert run_for(engine, clock, DAY) == 288
    runs = scheduled_runs(engine)
    assert len(runs) == 288
    stamps = [r["payload"]["timestamp"] for r in runs]
    assert stamps[0] == "2026-01-01T00:05:00+00:00" and stamps[-1] == "2026-01-02T00:00:00+00:00"
    assert len(set(stamps)) == 288
    first, second = runs[0]["payload"], runs[1]["payload"]
    assert first["last_timestamp"] is None and second["last_timestamp"] == first["timestamp"]
    assert second["schedule_id"] == made["id"] and second["external_id"] == "user-17"
    assert second["upcoming"][0] == "2026-01-01T00:15:00+00:00" and len(second["upcoming"]) == 5
    assert runs[0]["idempotency_key"] == f"schedule:{made['id']}:{T0 + 300:.0f}"
    after = engine.schedules.retrieve(ENV, made["id"])
    assert after["last_run"] == T0 + DAY and after["next_run"] == T0 + DAY + 300
    ticks = engine.schedules.ticks(ENV, made["id"], limit=1000)
    assert len(ticks) == 288 and {t["status"] for t in ticks} == {"fired"}


@pytest.mark.usefixtures("report")
def test_the_payload_reads_as_a_scheduled_payload(engine: Engine, clock: FakeClock) -> None:
    engine.schedules.create(ENV, task="report", cron_text="30 2 * * *",
                            timezone="America/New_York")
    clock.set(T0 + 30 * DAY)
    engine.schedules.tick()
    [run] = scheduled_runs(engine)
    payload = ScheduledPayload.model_validate(run["payload"])
    assert payload.timezone == "America/New_York"
    assert payload.timestamp.tzinfo is not None and str(payload.timestamp.tzinfo) == (
        "America/New_York")
    assert (payload.timestamp.hour, payload.timestamp.minute) == (2, 30)
    assert len(payload.upcoming) == 5 and payload.upcoming[0] > payload.timestamp
    with pytest.raises(Exception, match="frozen"):
        payload.timezone = "UTC"  # type: ignore[misc]


@pytest.mark.usefixtures("report")
def test_after_downtime_only_the_latest_tick_runs_and_the_rest_are_skipped(
    engine: Engine, clock: FakeClock
) -> None:
    made, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *")
    clock.advance(600)  # ticks at 00:05 and 00:10 are due
    report = engine.schedules.tick()
    assert len(report.fired) == 1 and report.skipped == 1
    clock.advance(3 * 3600 + 120)  # the server was down for three hours
    report = engine.schedules.tick()
    assert len(report.fired) == 1 and report.skipped == 35
    runs = scheduled_runs(engine)
    assert [r["payload"]["timestamp"] for r in runs] == [
        "2026-01-01T00:10:00+00:00", "2026-01-01T03:10:00+00:00"]
    assert runs[1]["payload"]["last_timestamp"] == "2026-01-01T00:10:00+00:00"
    ticks = engine.schedules.ticks(ENV, made["id"], limit=100)
    fired = [t for t in ticks if t["status"] == "fired"]
    skipped = [t for t in ticks if t["status"] == "skipped"]
    assert [t["skipped"] for t in fired] == [35, 1]
    assert len(skipped) == 36 and min(t["tick"] for t in skipped) == T0 + 300
    assert engine.schedules.retrieve(ENV, made["id"])["next_run"] == T0 + 3 * 3600 + 900


@pytest.mark.usefixtures("report")
def test_inactive_and_deleted_schedules_do_not_fire(engine: Engine, clock: FakeClock) -> None:
    paused, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *")
    gone, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *")
    engine.schedules.deactivate(ENV, paused["id"])
    engine.schedules.delete(ENV, gone["id"])
    assert run_for(engine, clock, 3600) == 0
    engine.schedules.activate(ENV, paused["id"])
    assert run_for(engine, clock, 3600) == 12


def test_a_declared_schedule_fires_its_task_and_stops_when_removed(
    engine: Engine, clock: FakeClock
) -> None:
    hourly = TaskDefinition(id="hourly", queue="hourly",
                            schedule={"cron": "0 * * * *", "timezone": "Asia/Seoul"})
    engine.register_tasks(ENV, [hourly])
    assert run_for(engine, clock, 3 * 3600) == 3
    engine.register_tasks(ENV, [TaskDefinition(id="hourly", queue="hourly")])
    assert run_for(engine, clock, 3 * 3600) == 0
    assert len(scheduled_runs(engine, "hourly")) == 3


@pytest.mark.usefixtures("report")
def test_a_schedule_whose_task_is_not_registered_skips_without_a_run(
    engine: Engine, clock: FakeClock
) -> None:
    made, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *")
    _execute(engine, "DELETE FROM tasks WHERE id = 'report'")  # a wiped environment
    engine._definitions.clear()
    clock.advance(300)
    report = engine.schedules.tick()
    assert report.fired == []
    [tick] = engine.schedules.ticks(ENV, made["id"])
    assert tick["status"] == "no_task" and tick["run_id"] is None
    assert engine.schedules.retrieve(ENV, made["id"])["next_run"] == T0 + 600


def _execute(engine: Engine, sql: str) -> None:
    """Change the database behind the engine's back (what no engine call does)."""
    store = engine.store
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.url.removeprefix("sqlite:///"))
        conn.execute(sql)
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(store.url) as pg:
            pg.execute(sql.encode())


@pytest.mark.usefixtures("report")
def test_a_schedule_moved_back_onto_a_fired_tick_does_not_run_it_again(
    engine: Engine, clock: FakeClock
) -> None:
    """The last guards: the run's idempotency key and the (schedule, tick) key."""
    made, _ = engine.schedules.create(ENV, task="report", cron_text="*/5 * * * *")
    clock.advance(300)
    [first] = engine.schedules.tick().fired
    _execute(engine, f"UPDATE schedules SET next_tick = {T0 + 300} WHERE id = '{made['id']}'")
    assert engine.schedules.tick().fired == []
    assert [r["id"] for r in scheduled_runs(engine)] == [first]
    assert engine.schedules.retrieve(ENV, made["id"])["next_run"] == T0 + 600
    assert len(engine.schedules.ticks(ENV, made["id"])) == 1


# -- many servers -------------------------------------------------------------------------------


@pytest.mark.usefixtures("report")
def test_two_servers_ticking_at_once_for_hours_make_one_run_per_tick(
    engine: Engine, clock: FakeClock, store_url: str
) -> None:
    """Two engines with their own connections on one database, no leader lease between
    them, both ticking at every simulated minute at the same instant."""
    crons = ["*/5 * * * *", "* * * * *", "0 * * * *", "*/7 * * * *", "15,45 * * * *"]
    ids = [engine.schedules.create(ENV, task="report", cron_text=c)[0]["id"] for c in crons]
    other_store = open_store(store_url)
    other = Engine(other_store, clock=clock, lease_seconds=LEASE_SECONDS)
    hours, errors = 6, []
    barrier = threading.Barrier(2)
    fired: list[list[str]] = [[], []]

    def server(index: int, which: Engine) -> None:
        try:
            for _ in range(hours * 60):
                barrier.wait(timeout=30)
                if index == 0:
                    clock.advance(60)
                barrier.wait(timeout=30)
                fired[index].extend(which.schedules.tick().fired)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=server, args=(i, e))
               for i, e in enumerate((engine, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    other_store.close()
    assert errors == []
    expected = {"*/5 * * * *": 72, "* * * * *": 360, "0 * * * *": 6, "*/7 * * * *": 54,
                "15,45 * * * *": 12}
    runs = scheduled_runs(engine)
    assert len(fired[0]) + len(fired[1]) == len(runs) == sum(expected.values())
    for schedule_id, expr in zip(ids, crons, strict=True):
        stamps = [r["payload"]["timestamp"] for r in runs
                  if r["payload"]["schedule_id"] == schedule_id]
        assert len(stamps) == len(set(stamps)) == expected[expr], expr
