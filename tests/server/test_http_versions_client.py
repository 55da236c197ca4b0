"""``client.versions``, its asyncio twin and ``outlast.versions`` over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import trigger_run
from tests.versions.support import add_version, live_worker, pin

import outlast
from outlast.clock import FakeClock
from outlast.core.records import TaskRecord, VersionRecord, VersionWorker
from outlast.engine import Engine
from outlast.errors import ConflictError, NotFoundError, ValidationError
from outlast.sdk.client import default_async_client


@pytest.fixture
def pinned(engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> str:
    """v1 with a worker and a run pinned to it; v2 current. Returns the run's id."""
    add_version(engine, "v1", ["hello"])
    live_worker(engine, "worker-1", "v1")
    run_id = str(trigger_run(engine, "hello").row["id"])
    pin(engine, run_id, "v1")
    clock.advance(1)
    add_version(engine, "v2", ["hello", "other"])
    return run_id


@pytest.fixture
def client(live_server: Any, engine: Engine) -> Iterator[outlast.Client]:
    with outlast.Client(url=live_server.url, api_key=engine.create_api_key("dev")) as c:
        yield c


def test_list_retrieve_promote_retire(client: outlast.Client, engine: Engine,
                                      pinned: str) -> None:
    v2, v1 = client.versions.list()
    assert isinstance(v1, VersionRecord)
    assert (v1.version, v1.state, v1.live_workers, v1.pinned_runs, v1.safe_to_stop) == (
        "v1", "draining", 1, {"QUEUED": 1}, False)
    assert (v2["version"], v2.get("state")) == ("v2", "current")  # dict-style reads too
    assert v1.definitions is None and v1.workers is None  # lists leave the details out

    shown = client.versions.retrieve("v1")
    assert isinstance(shown.definitions, list)
    [definition] = shown.definitions
    assert isinstance(definition, TaskRecord)
    assert (definition.id, definition.queue, definition.retry["max_attempts"]) == (
        "hello", "hello", 3)
    assert isinstance(shown.workers, list) and isinstance(shown.workers[0], VersionWorker)
    assert shown.workers[0].id == "worker-1"
    assert VersionRecord.from_json(shown.to_json()) == shown

    with pytest.raises(ConflictError, match="1 QUEUED"):
        client.versions.retire("v1")
    engine.cancel("dev", pinned)
    assert client.versions.retire("v1").state == "retired"
    assert client.versions.promote("v1").state == "current"
    assert client.versions.retrieve("v2").state == "draining"


def test_errors(client: outlast.Client, pinned: str) -> None:
    with pytest.raises(NotFoundError, match="no version 'v9'"):
        client.versions.retrieve("v9")
    with pytest.raises(ConflictError, match="v2 is current"):
        client.versions.retire("v2")
    with pytest.raises(ValidationError, match="is not a version name"):
        client.versions.promote("../v1")  # refused before any request


def test_async_client(live_server: Any, engine: Engine, pinned: str) -> None:
    async def go() -> None:
        async with outlast.AsyncClient(url=live_server.url,
                                       api_key=engine.create_api_key("dev")) as c:
            assert [v.version for v in await c.versions.list()] == ["v2", "v1"]
            assert (await c.versions.retrieve("v1")).tasks == ["hello"]
            with pytest.raises(ConflictError):
                await c.versions.retire("v1")
            engine.cancel("dev", pinned)
            assert (await c.versions.retire("v1")).state == "retired"
            assert (await c.versions.promote("v1")).state == "current"

    asyncio.run(go())


def test_module_functions(client: outlast.Client, engine: Engine, pinned: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OUTLAST_API_URL", raising=False)  # configure serves asyncio too
    outlast.configure(client)
    try:
        assert [v.version for v in outlast.versions.list()] == ["v2", "v1"]
        assert outlast.versions.retrieve("v1").live_workers == 1
        engine.cancel("dev", pinned)
        assert outlast.versions.retire("v1").state == "retired"
        assert outlast.versions.promote("v1").state == "current"

        async def go() -> None:
            assert (await outlast.versions.promote_async("v2")).state == "current"
            assert (await outlast.versions.retrieve_async("v1")).state == "draining"
            assert len(await outlast.versions.list_async()) == 2
            with pytest.raises(ConflictError):
                await outlast.versions.retire_async("v2")
            await default_async_client().aclose()

        asyncio.run(go())
    finally:
        outlast.configure(None)
