"""``outlast.Client`` and ``AsyncClient`` over real HTTP, against uvicorn on a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import outlast
from outlast.clock import FakeClock
from outlast.core.settings import Settings
from outlast.engine import Engine
from outlast.errors import (
    AuthError,
    InvalidTransitionError,
    PayloadTooLargeError,
    RunNotFoundError,
    TaskNotFoundError,
    ValidationError,
)

#: a payload limit these tests set (the default, 100 MB, is too large to send in a test)
SMALL_LIMIT = [Settings(max_payload_bytes=3 * 1024 * 1024)]


@pytest.fixture
def client(live_server: Any, engine: Engine) -> Iterator[outlast.Client]:
    url = live_server.url
    with outlast.Client(url=url, api_key=engine.create_api_key("dev")) as c:
        yield c


def test_trigger_retrieve_and_list(client: outlast.Client) -> None:
    handle = client.tasks.trigger("hello", {"name": "Ada"}, tags=["user:1"],
                                  idempotency_key="k1")
    assert handle.created
    again = client.tasks.trigger("hello", {"name": "Ada"}, idempotency_key="k1")
    assert (again.id, again.created) == (handle.id, False)
    run = handle.retrieve()
    assert (run.id, run.status, run.payload, run.tags) == (
        handle.id, "QUEUED", {"name": "Ada"}, ["user:1"])
    assert [r.id for r in client.runs.list(tag="user:1")] == [handle.id]


def test_batches(client: outlast.Client) -> None:
    one_task = client.tasks.batch_trigger("hello", [{"payload": i} for i in range(3)])
    many = client.batch.trigger([{"task": "hello", "payload": 1},
                                 {"task": "other", "payload": 2}])
    assert len(one_task) == 3
    assert [h.task for h in many] == ["hello", "other"]
    runs, cursor = client.runs.page(limit=4)
    assert len(runs) == 4 and cursor is not None
    rest, last = client.runs.page(limit=4, cursor=cursor)
    assert (len(rest), last) == (1, None)


def test_batch_items_sharing_one_options_dict_each_get_them(client: outlast.Client) -> None:
    """Options that are one object for many items are checked once; each run has them,
    and an item whose options differ has its own."""
    shared = {"tags": ["s"], "delay": "1h"}
    items = [{"payload": i, "options": shared} for i in range(4)]
    items[2] = {"payload": 2, "options": {"tags": ["own"]}}
    handles = client.tasks.batch_trigger("hello", items)
    runs = [client.runs.retrieve(h.id) for h in handles]
    assert [(r.payload, r.tags, r.status) for r in runs] == [
        (0, ["s"], "DELAYED"), (1, ["s"], "DELAYED"), (2, ["own"], "QUEUED"),
        (3, ["s"], "DELAYED")]
    with pytest.raises(ValidationError, match="delay"):
        client.tasks.batch_trigger("hello", [*items, {"payload": 4, "options": {"delay": "x"}}])


def test_actions(client: outlast.Client) -> None:
    handle = client.tasks.trigger("hello", {"n": 1}, delay="1h")
    assert client.runs.reschedule(handle.id, "2h").status == "DELAYED"
    replayed = client.runs.replay(handle.id, {"n": 2})
    assert client.runs.retrieve(replayed.id).payload == {"n": 2}
    assert client.runs.cancel(handle.id).status == "CANCELED"
    with pytest.raises(InvalidTransitionError):
        client.runs.cancel(handle.id)


def test_errors_come_back_as_their_classes(client: outlast.Client, live_server: Any) -> None:
    with pytest.raises(TaskNotFoundError):
        client.tasks.trigger("ghost", 1)
    with pytest.raises(RunNotFoundError):
        client.runs.retrieve("run_missing")
    with pytest.raises(ValidationError):
        client.runs.list(status="SLEEPING")
    url = live_server.url
    with outlast.Client(url=url, api_key="wrong") as stranger, pytest.raises(AuthError):
        stranger.runs.list()


def test_scheduler_in_the_server_enqueues_due_runs(client: outlast.Client, clock: FakeClock,
                                                   eventually: Callable[..., None]) -> None:
    clock.set(time.time())  # the client resolves delays with the wall clock
    handle = client.tasks.trigger("hello", None, delay="1s")
    assert handle.retrieve().status == "DELAYED"
    clock.advance(2)
    eventually(lambda: handle.retrieve().status == "QUEUED")


def test_async_client(live_server: Any, engine: Engine) -> None:
    url, key = live_server.url, engine.create_api_key("dev")

    async def main() -> tuple[str, str]:
        async with outlast.AsyncClient(url=url, api_key=key) as c:
            handle = await c.tasks.trigger("other", [1, 2])
            run = await c.runs.retrieve(handle.id)
            return run.task, run.status

    assert asyncio.run(main()) == ("other", "QUEUED")


@pytest.mark.parametrize("engine_settings", SMALL_LIMIT)
def test_oversized_body_over_real_http_is_413(live_server: Any, dev_key: str) -> None:
    body = b'{"payload": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    with httpx.Client(base_url=live_server.url) as http:
        r = http.post("/api/v1/tasks/hello/trigger", content=body,
                      headers={"Authorization": f"Bearer {dev_key}"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("engine_settings", SMALL_LIMIT)
def test_payload_too_large_through_the_client(client: outlast.Client) -> None:
    with pytest.raises(PayloadTooLargeError):
        client.tasks.trigger("hello", "x" * 3_500_000)
