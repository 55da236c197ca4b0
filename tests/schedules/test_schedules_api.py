"""Schedules over HTTP, through Client/AsyncClient and the module-level functions, and by the
server's scheduler thread; on both stores."""

from __future__ import annotations

import asyncio
import concurrent.futures
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from outlast import AsyncClient, Client, configure, schedules
from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.errors import ConflictError, ScheduleNotFoundError, TaskNotFoundError, ValidationError
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport
from outlast.server.app import create_app
from outlast.server.scheduler import Scheduler
from tests.conftest import T0

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

KEY = "ol_dev_test-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def http(engine: Engine, register: Any) -> Iterator[TestClient]:
    register(engine, "report")
    app = create_app(engine, dev_api_key=KEY, scheduler=False)
    with TestClient(app, headers=HEADERS) as c:
        yield c


@pytest.fixture
def client(engine: Engine, register: Any) -> Client:
    register(engine, "report")
    return Client(transport=LocalTransport(engine, "dev"))


# -- HTTP ----------------------------------------------------------------------------------


def test_http_create_read_update_pause_delete(http: TestClient) -> None:
    body = {"task": "report", "cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin",
            "external_id": "user-17", "deduplication_key": "user-17-report"}
    made = http.post("/api/v1/schedules", json=body)
    assert made.status_code == 201, made.text
    schedule_id = made.json()["id"]
    again = http.post("/api/v1/schedules", json=body | {"cron": "0 10 * * MON-FRI"})
    assert again.status_code == 200 and again.json()["id"] == schedule_id
    assert again.json()["cron"] == "0 10 * * MON-FRI"
    listed = http.get("/api/v1/schedules", params={"task": "report"}).json()
    assert [s["id"] for s in listed["data"]] == [schedule_id] and listed["next_cursor"] is None
    got = http.get(f"/api/v1/schedules/{schedule_id}").json()
    assert got["upcoming"][0] == "2026-01-01T10:00:00+01:00"
    patched = http.patch(f"/api/v1/schedules/{schedule_id}", json={"timezone": "UTC"})
    assert patched.status_code == 200 and patched.json()["timezone"] == "UTC"
    paused = http.post(f"/api/v1/schedules/{schedule_id}/deactivate")
    assert paused.status_code == 200 and paused.json()["active"] is False
    resumed = http.post(f"/api/v1/schedules/{schedule_id}/activate")
    assert resumed.json()["active"] is True
    assert http.get(f"/api/v1/schedules/{schedule_id}/ticks").json() == {"data": []}
    assert http.delete(f"/api/v1/schedules/{schedule_id}").status_code == 200
    assert http.get(f"/api/v1/schedules/{schedule_id}").status_code == 404


@pytest.mark.parametrize(("body", "status", "code", "message"), [
    ({"task": "report", "cron": "0 25 * * *"}, 400, "invalid_request", "Bad hour"),
    ({"task": "report", "cron": "* * * *"}, 400, "invalid_request", "expected 5 fields"),
    ({"task": "report", "cron": "@hourly", "timezone": "Mars/Olympus"}, 400,
     "invalid_request", "unknown time zone 'Mars/Olympus'"),
    ({"task": "nope", "cron": "@hourly"}, 404, "task_not_found", "unknown task 'nope'"),
    ({"cron": "@hourly"}, 400, "invalid_request", "needs 'task'"),
    ({"task": "report", "cron": 5}, 400, "invalid_request", "cron must be a non-empty string"),
    ({"task": "report", "cron": "@hourly", "every": "1h"}, 400, "invalid_request",
     "unknown field"),
    ([1, 2], 400, "invalid_request", "JSON object"),
])
def test_http_bad_input_is_a_clear_error(http: TestClient, body: Any, status: int, code: str,
                                         message: str) -> None:
    answer = http.post("/api/v1/schedules", json=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_http_unknown_schedule_is_404(http: TestClient) -> None:
    for method, path in (("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/activate"),
                         ("POST", "/deactivate")):
        answer = http.request(method, f"/api/v1/schedules/sched_nope{path}", json={})
        assert answer.status_code == 404, (method, path)
        assert answer.json()["error"]["code"] == "schedule_not_found"


def test_http_schedules_are_in_the_openapi_document(http: TestClient) -> None:
    paths = http.get("/api/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/schedules"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/schedules/{schedule_id}"])


# -- clients -----------------------------------------------------------------------------------


def test_client_schedules(client: Client, engine: Engine, clock: FakeClock) -> None:
    made = client.schedules.create("report", "*/5 * * * *", timezone="Asia/Seoul",
                                   external_id="user-17", deduplication_key="k")
    assert made.active and not made.declarative and made.source == "imperative"
    assert made.next_run is not None and made.next_run.timestamp() == T0 + 300
    assert str(made.next_run.tzinfo) == "Asia/Seoul"
    assert [t.minute for t in made.upcoming] == [5, 10, 15, 20, 25]
    # the same key again: that schedule becomes what this call says
    again = client.schedules.create("report", "*/10 * * * *", deduplication_key="k")
    assert again.id == made.id and again.timezone == "UTC" and again.external_id is None
    client.schedules.update(made.id, external_id="user-17")
    assert [s.id for s in client.schedules.list(task="report")] == [made.id]
    assert client.schedules.update(made.id, cron="@hourly").cron == "0 * * * *"
    assert not client.schedules.deactivate(made.id).active
    assert client.schedules.activate(made.id).active
    assert client.schedules.retrieve(made.id).external_id == "user-17"
    assert client.schedules.delete(made.id).id == made.id
    with pytest.raises(ScheduleNotFoundError):
        client.schedules.retrieve(made.id)


def test_client_checks_cron_and_zone_before_sending(client: Client) -> None:
    with pytest.raises(ValidationError, match="expected 5 fields"):
        client.schedules.create("report", "* * * * * *")
    with pytest.raises(ValidationError, match="unknown time zone"):
        client.schedules.create("report", "@daily", timezone="Nowhere/City")
    with pytest.raises(TaskNotFoundError):
        client.schedules.create("nope", "@daily")


def test_module_functions_use_the_default_client(client: Client) -> None:
    configure(client)
    try:
        made = schedules.create(task="report", cron="0 9 * * 1-5", timezone="UTC",
                                external_id="user-17", deduplication_key="user-17-report")
        assert [s.id for s in schedules.list()] == [made.id]
        assert schedules.retrieve(made.id).cron == "0 9 * * 1-5"
        assert schedules.update(made.id, cron="0 8 * * *").cron == "0 8 * * *"
        assert not schedules.deactivate(made.id).active
        assert schedules.activate(made.id).active
        assert schedules.delete(made.id).id == made.id
        assert schedules.list() == []
    finally:
        configure(None)


def test_async_client_schedules(engine: Engine, register: Any) -> None:
    register(engine, "report")

    async def main() -> None:
        async with AsyncClient(transport=AsyncLocalTransport(LocalTransport(engine, "dev"))) as c:
            made = await c.schedules.create("report", "@daily", timezone="Europe/Berlin")
            assert [s.id for s in await c.schedules.list()] == [made.id]
            assert (await c.schedules.update(made.id, cron="@hourly")).cron == "0 * * * *"
            assert not (await c.schedules.deactivate(made.id)).active
            assert (await c.schedules.activate(made.id)).active
            assert (await c.schedules.retrieve(made.id)).timezone == "Europe/Berlin"
            await c.schedules.delete(made.id)

    # a thread of its own, so that no event loop another test left running is in the way
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result(timeout=60)


def test_a_declared_task_registers_its_schedule_and_gets_typed_payloads(
    engine: Engine, client: Client, clock: FakeClock
) -> None:
    @schedules.task(id="hourly-update", cron="0 * * * *", timezone="Asia/Seoul",
                    registry=_private_registry())
    def hourly_update(payload: schedules.ScheduledPayload) -> str:
        return payload.timestamp.isoformat()

    # what a worker child reports to its supervisor, which registers it
    definition = TaskDefinition.from_dict(hourly_update.definition().to_dict())
    assert definition.schedule == {"cron": "0 * * * *", "timezone": "Asia/Seoul"}
    engine.register_tasks("dev", [definition])
    [declared] = [s for s in client.schedules.list() if s.declarative]
    assert declared.task == "hourly-update" and declared.timezone == "Asia/Seoul"
    with pytest.raises(ConflictError, match="declared in code"):
        client.schedules.update(declared.id, cron="@daily")
    # the run's payload reaches the function as a ScheduledPayload in the schedule's zone
    clock.advance(3600)
    [run_id] = engine.schedules.tick().fired
    payload = hourly_update.codec.from_json(engine.retrieve("dev", run_id)["payload"], "x")
    assert isinstance(payload, schedules.ScheduledPayload)
    assert hourly_update(payload) == "2026-01-01T10:00:00+09:00"
    assert payload.schedule_id == declared.id and payload.last_timestamp is None


def _private_registry() -> Any:
    from outlast.sdk.registry import Registry

    return Registry()


# -- the server's scheduler ----------------------------------------------------------------------


def test_the_scheduler_thread_fires_due_schedules(engine: Engine, clock: FakeClock,
                                                  register: Any) -> None:
    register(engine, "report")
    engine.schedules.create("dev", task="report", cron_text="*/5 * * * *")
    scheduler = Scheduler(engine, interval=0.01)
    clock.advance(300)
    scheduler.tick()
    clock.advance(300)
    scheduler.tick()
    runs, _ = engine.list_runs("dev", task="report")
    assert len(runs) == 2
    assert engine.try_lead("sweeper", scheduler.holder, 15)  # it held the lease to do so
