"""Imperative and declarative schedules on both stores: CRUD, upsert by key, sync, errors."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.errors import (
    ConflictError,
    ScheduleNotFoundError,
    TaskNotFoundError,
    ValidationError,
)
from tests.conftest import T0

ENV = "dev"


def scheduled(task_id: str, cron: str, tz: str = "UTC") -> TaskDefinition:
    return TaskDefinition(id=task_id, queue=task_id, schedule={"cron": cron, "timezone": tz})


def create(engine: Engine, **fields: Any) -> dict[str, Any]:
    fields.setdefault("task", "report")
    fields.setdefault("cron_text", "0 9 * * MON-FRI")
    record, _ = engine.schedules.create(ENV, **fields)
    return record


@pytest.fixture
def tasks(engine: Engine, register: Any) -> None:
    register(engine, "report", "other")


# -- imperative -------------------------------------------------------------------------------


@pytest.mark.usefixtures("tasks")
def test_create_retrieve_list(engine: Engine) -> None:
    made = create(engine, timezone="Europe/Berlin", external_id="user-17")
    assert made["id"].startswith("sched_") and made["source"] == "imperative"
    assert made["active"] and made["external_id"] == "user-17"
    assert made["cron"] == "0 9 * * MON-FRI" and made["timezone"] == "Europe/Berlin"
    # T0 is Thursday 2026-01-01 00:00 UTC: the next 09:00 Berlin is that morning, 08:00 UTC
    assert made["next_run"] == T0 + 8 * 3600
    assert made["upcoming"][:2] == ["2026-01-01T09:00:00+01:00", "2026-01-02T09:00:00+01:00"]
    assert made["upcoming"][2] == "2026-01-05T09:00:00+01:00"  # the weekend is skipped
    assert engine.schedules.retrieve(ENV, made["id"]) == made
    listed, cursor = engine.schedules.list(ENV)
    assert [s["id"] for s in listed] == [made["id"]] and cursor is None


@pytest.mark.usefixtures("tasks")
def test_list_filters_by_task_and_pages(engine: Engine) -> None:
    ids = [create(engine, task="report" if i % 2 else "other")["id"] for i in range(5)]
    reports, _ = engine.schedules.list(ENV, task="report")
    assert sorted(s["id"] for s in reports) == sorted([ids[1], ids[3]])
    page, cursor = engine.schedules.list(ENV, limit=3)
    rest, end = engine.schedules.list(ENV, limit=3, cursor=cursor)
    assert [s["id"] for s in page + rest] == sorted(ids) and end is None  # ordered by id
    assert engine.schedules.list("prod")[0] == []


@pytest.mark.usefixtures("tasks")
def test_a_deduplication_key_updates_instead_of_duplicating(engine: Engine) -> None:
    first, created = engine.schedules.create(ENV, task="report", cron_text="0 9 * * *",
                                             deduplication_key="user-17-report")
    again, created_again = engine.schedules.create(
        ENV, task="other", cron_text="30 8 * * *", timezone="Asia/Seoul",
        external_id="user-17", deduplication_key="user-17-report")
    assert created and not created_again
    assert again["id"] == first["id"]
    assert (again["task"], again["cron"], again["timezone"], again["external_id"]) == (
        "other", "30 8 * * *", "Asia/Seoul", "user-17")
    assert again["next_run"] == T0 + 23.5 * 3600  # 08:30 in Seoul is 23:30 UTC
    assert len(engine.schedules.list(ENV)[0]) == 1
    # keys are per environment
    engine.register_tasks("prod", [TaskDefinition(id="report", queue="report")])
    other_env, created_elsewhere = engine.schedules.create(
        "prod", task="report", cron_text="0 9 * * *", deduplication_key="user-17-report")
    assert created_elsewhere and other_env["id"] != first["id"]


@pytest.mark.usefixtures("tasks")
def test_update_changes_cron_and_recomputes_the_next_run(engine: Engine,
                                                         clock: FakeClock) -> None:
    made = create(engine, cron_text="0 9 * * *")
    clock.advance(60)
    changed = engine.schedules.update(ENV, made["id"], cron="*/10 * * * *", external_id="x")
    assert changed["cron"] == "*/10 * * * *" and changed["external_id"] == "x"
    assert changed["next_run"] == T0 + 600
    assert engine.schedules.update(ENV, made["id"], timezone="Asia/Seoul")["timezone"] == (
        "Asia/Seoul")


@pytest.mark.usefixtures("tasks")
def test_deactivate_activate_and_delete(engine: Engine, clock: FakeClock) -> None:
    made = create(engine, cron_text="*/5 * * * *")
    paused = engine.schedules.deactivate(ENV, made["id"])
    assert not paused["active"] and paused["next_run"] is None and paused["upcoming"] == []
    assert paused["inactive_reason"] == "deactivated"
    clock.advance(3600 + 30)
    resumed = engine.schedules.activate(ENV, made["id"])
    assert resumed["active"] and resumed["next_run"] == T0 + 3900  # from now, no make-up
    assert engine.schedules.activate(ENV, made["id"]) == resumed  # idempotent
    gone = engine.schedules.delete(ENV, made["id"])
    assert gone["id"] == made["id"]
    with pytest.raises(ScheduleNotFoundError):
        engine.schedules.retrieve(ENV, made["id"])


@pytest.mark.usefixtures("tasks")
@pytest.mark.parametrize(("fields", "error", "message"), [
    ({"cron_text": "61 * * * *"}, ValidationError, "Bad minute"),
    ({"cron_text": "* * * *"}, ValidationError, "expected 5 fields"),
    ({"cron_text": "*/5 * * * * *"}, ValidationError, "expected 5 fields"),
    ({"timezone": "Mars/Olympus"}, ValidationError, "unknown time zone 'Mars/Olympus'"),
    ({"task": "nope"}, TaskNotFoundError, "unknown task 'nope'"),
])
def test_bad_input_is_a_clear_error(engine: Engine, fields: dict[str, Any], error: type,
                                    message: str) -> None:
    with pytest.raises(error, match=message):
        create(engine, **fields)
    assert engine.schedules.list(ENV)[0] == []


@pytest.mark.usefixtures("tasks")
def test_unknown_schedules_and_fields(engine: Engine) -> None:
    for call in (engine.schedules.retrieve, engine.schedules.activate,
                 engine.schedules.deactivate, engine.schedules.delete):
        with pytest.raises(ScheduleNotFoundError, match="no schedule 'sched_nope'"):
            call(ENV, "sched_nope")
    made = create(engine)
    with pytest.raises(ScheduleNotFoundError):
        engine.schedules.retrieve("prod", made["id"])  # other environments do not see it
    with pytest.raises(ValidationError, match="cannot update deduplication_key"):
        engine.schedules.update(ENV, made["id"], deduplication_key="k")
    with pytest.raises(ValidationError, match="unknown time zone"):
        engine.schedules.update(ENV, made["id"], timezone="Nowhere/City")
    with pytest.raises(TaskNotFoundError):
        engine.schedules.update(ENV, made["id"], task="nope")
    with pytest.raises(ValidationError, match="limit"):
        engine.schedules.list(ENV, limit=0)


# -- declarative --------------------------------------------------------------------------------


def declared(engine: Engine) -> dict[str, dict[str, Any]]:
    return {s["task"]: s for s in engine.schedules.list(ENV)[0] if s["source"] == "declarative"}


def test_registering_tasks_syncs_declared_schedules(engine: Engine, clock: FakeClock) -> None:
    engine.register_tasks(ENV, [scheduled("hourly", "0 * * * *", "Asia/Seoul"),
                                TaskDefinition(id="plain", queue="plain")])
    [only] = declared(engine).values()
    assert (only["task"], only["cron"], only["timezone"], only["active"]) == (
        "hourly", "0 * * * *", "Asia/Seoul", True)
    assert only["next_run"] == T0 + 3600
    # a restart with the same code changes nothing
    clock.advance(10)
    engine.register_tasks(ENV, [scheduled("hourly", "0 * * * *", "Asia/Seoul")])
    assert declared(engine)["hourly"] == only


def test_a_restart_with_a_changed_cron_updates_the_schedule(engine: Engine,
                                                            clock: FakeClock) -> None:
    engine.register_tasks(ENV, [scheduled("report", "0 9 * * *")])
    before = declared(engine)["report"]
    clock.advance(60)
    engine.register_tasks(ENV, [scheduled("report", "*/15 * * * *", "Europe/Berlin")])
    after = declared(engine)["report"]
    assert after["id"] == before["id"]
    assert (after["cron"], after["timezone"], after["next_run"]) == (
        "*/15 * * * *", "Europe/Berlin", T0 + 900)


def test_a_vanished_task_or_schedule_is_deactivated_and_comes_back(engine: Engine) -> None:
    engine.register_tasks(ENV, [scheduled("a", "0 * * * *"), scheduled("b", "0 * * * *")])
    # "a" lost its schedule, "b" was deleted from the code
    engine.register_tasks(ENV, [TaskDefinition(id="a", queue="a")])
    now = declared(engine)
    assert not now["a"]["active"] and not now["b"]["active"]
    assert now["a"]["inactive_reason"] == now["b"]["inactive_reason"] == "removed_from_code"
    with pytest.raises(ConflictError, match="no longer declares it"):
        engine.schedules.activate(ENV, now["a"]["id"])
    engine.register_tasks(ENV, [scheduled("a", "30 * * * *")])
    back = declared(engine)
    assert back["a"]["active"] and back["a"]["cron"] == "30 * * * *"
    assert back["a"]["id"] == now["a"]["id"] and not back["b"]["active"]


def test_an_operator_pause_survives_a_restart(engine: Engine) -> None:
    engine.register_tasks(ENV, [scheduled("a", "0 * * * *")])
    schedule_id = declared(engine)["a"]["id"]
    engine.schedules.deactivate(ENV, schedule_id)
    engine.register_tasks(ENV, [scheduled("a", "0 * * * *")])
    assert not declared(engine)["a"]["active"]
    assert engine.schedules.activate(ENV, schedule_id)["active"]


def test_declared_schedules_cannot_be_edited_or_deleted_through_the_api(engine: Engine) -> None:
    engine.register_tasks(ENV, [scheduled("a", "0 * * * *")])
    schedule_id = declared(engine)["a"]["id"]
    with pytest.raises(ConflictError, match="declared in code"):
        engine.schedules.update(ENV, schedule_id, cron="*/5 * * * *")
    with pytest.raises(ConflictError, match="declared in code"):
        engine.schedules.delete(ENV, schedule_id)


def test_an_invalid_declared_schedule_does_not_break_registration(engine: Engine) -> None:
    engine.register_tasks(ENV, [scheduled("bad", "not cron"), scheduled("good", "@daily")])
    assert set(declared(engine)) == {"good"}
    assert engine.definition(ENV, "bad").id == "bad"


def test_declared_schedules_are_per_environment(engine: Engine) -> None:
    engine.register_tasks(ENV, [scheduled("a", "0 * * * *")])
    engine.register_tasks("prod", [TaskDefinition(id="a", queue="a")])
    assert declared(engine)["a"]["active"]
