"""``client.bulk_actions`` over real HTTP: the filters of ``runs.list``, a record to follow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import outlast
from outlast.engine import Engine, bulk_work
from outlast.errors import NotFoundError, ValidationError


@pytest.fixture
def client(live_server: Any, engine: Engine) -> Iterator[outlast.Client]:
    with outlast.Client(url=live_server.url, api_key=engine.create_api_key("dev")) as c:
        yield c


def test_cancel_by_filter_then_wait(client: outlast.Client, engine: Engine) -> None:
    ids = {client.tasks.trigger("hello", i, tags=["wave:1"]).id for i in range(3)}
    client.tasks.trigger("other", 0, tags=["wave:1"])
    assert client.bulk_actions.count(task="hello", tag="wave:1") == 3
    action = client.bulk_actions.cancel(task="hello", tag="wave:1")
    assert (action.action, action.status, action.is_final) == ("cancel", "PENDING", False)
    bulk_work.run_to_end(engine)
    done = client.bulk_actions.wait(action.id, timeout=10)
    assert (done.status, done.total, done.succeeded) == ("COMPLETED", 3, 3)
    assert {r.id for r in client.runs.list(status="CANCELED")} == ids
    assert [a.id for a in client.bulk_actions.list()] == [action.id]


def test_replay_ids_with_a_payload_and_abort(client: outlast.Client, engine: Engine) -> None:
    run_id = client.tasks.trigger("hello", 1).id
    action = client.bulk_actions.replay(run_ids=[run_id], payload={"v": 2})
    assert client.bulk_actions.abort(action.id).status == "ABORTED"
    again = client.bulk_actions.replay(run_ids=[run_id], payload={"v": 2})
    bulk_work.run_to_end(engine)
    assert client.bulk_actions.retrieve(again.id).succeeded == 1
    [replay] = [r for r in client.runs.list() if r.id != run_id]
    assert replay.payload == {"v": 2}


def test_errors_come_back_as_their_types(client: outlast.Client) -> None:
    with pytest.raises(ValidationError, match="unknown status"):
        client.bulk_actions.cancel(status="DONE")
    with pytest.raises(TypeError, match="limit"):
        client.bulk_actions.cancel(limit=5)  # type: ignore[call-arg]
    with pytest.raises(NotFoundError):
        client.bulk_actions.retrieve("bulk_unknown")


def test_async_twin(live_server: Any, engine: Engine) -> None:
    async def go() -> Any:
        async with outlast.AsyncClient(url=live_server.url,
                                       api_key=engine.create_api_key("dev")) as client:
            await client.tasks.trigger("other", 1)
            action = await client.bulk_actions.cancel(task="other")
            await asyncio.to_thread(bulk_work.run_to_end, engine)
            return await client.bulk_actions.wait(action.id, timeout=10)

    assert asyncio.run(go()).succeeded == 1
