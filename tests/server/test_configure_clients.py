"""``outlast.configure`` sets the client behind every module-level call, blocking and
asyncio alike: one call, no ``OUTLAST_*`` variable needed for either kind."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import outlast
from outlast import AsyncClient, Client, ConfigError, runs, tasks
from outlast.engine import Engine
from outlast.sdk.calls import Call
from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.transports import (
    AsyncHttpTransport,
    HttpTransport,
    ThreadedTransport,
    async_twin,
    sync_twin,
)

T = TypeVar("T")


@pytest.fixture(autouse=True)
def nothing_in_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                               ) -> Iterator[None]:
    """No ``OUTLAST_*`` variable and no dev.env: only ``configure`` says where to go."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OUTLAST_"):
            monkeypatch.delenv(name)
    yield
    outlast.configure(None)


@pytest.fixture
def key(engine: Engine) -> str:
    return engine.create_api_key("dev")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, closing the loop's default client (its sockets) before the loop."""
    async def closing() -> T:
        try:
            return await coro
        finally:
            await default_async_client().aclose()

    return asyncio.run(closing())


def test_configure_with_a_client_serves_the_asyncio_calls_too(live_server: Any,
                                                               key: str) -> None:
    with Client(url=live_server.url, api_key=key) as client:
        outlast.configure(client)

        async def go() -> tuple[str, str, int]:
            handle = await tasks.trigger_async("hello", {"n": 1}, tags=["async"])
            run = await runs.retrieve_async(handle.id)
            journal = await runs.journal_async(handle.id)
            return handle.id, run.status, len(journal)

        run_id, status, journal = run(go())
        assert (status, journal) == ("QUEUED", 0)
        assert client.runs.retrieve(run_id).tags == ["async"]  # the same server
        assert runs.journal(run_id) == []  # and the module-level journal, blocking

        # a second event loop gets a client of its own (an httpx client binds to one loop)
        assert run(runs.retrieve_async(run_id)).id == run_id


def test_configure_with_only_an_async_client_serves_the_blocking_calls(
        live_server: Any, key: str) -> None:
    async def go() -> str:
        async with AsyncClient(url=live_server.url, api_key=key) as given:
            outlast.configure(async_client=given)
            assert default_async_client() is given
            handle = await tasks.trigger_async("hello", {"n": 2})
            assert runs.retrieve(handle.id).payload == {"n": 2}  # blocking, same server
            return handle.id

    run_id = asyncio.run(go())
    assert tasks.trigger("other").task == "other"
    assert runs.retrieve(run_id).status == "QUEUED"
    default_client().close()  # the twin configure made; its sockets go with it


def test_configure_with_both_uses_each_as_given(live_server: Any, key: str) -> None:
    async def go() -> None:
        async with AsyncClient(url=live_server.url, api_key=key) as given_async:
            with Client(url=live_server.url, api_key=key) as given:
                outlast.configure(given, async_client=given_async)
                assert default_client() is given
                assert default_async_client() is given_async
                handle = await tasks.trigger_async("hello")
                assert (await handle.retrieve()).id == runs.retrieve(handle.id).id

    asyncio.run(go())


def test_configure_none_goes_back_to_the_environment(live_server: Any, key: str) -> None:
    with Client(url=live_server.url, api_key=key) as client:
        outlast.configure(client)
        outlast.configure(None)
        with pytest.raises(ConfigError, match="no Outlast server configured"):
            runs.list()
        with pytest.raises(ConfigError, match="no Outlast server configured"):
            asyncio.run(runs.list_async())


def test_a_database_client_and_its_asyncio_twin_share_the_database(
        store_url: str, tasks: tuple[str, ...]) -> None:
    with Client(database_url=store_url) as client:
        outlast.configure(client)

        async def go() -> str:
            handle = await outlast.tasks.trigger_async("hello", {"n": 3})
            await default_async_client().aclose()  # closes the twin, not the shared engine
            return handle.id

        run_id = run(go())
        assert client.runs.retrieve(run_id).payload == {"n": 3}
        assert run(runs.retrieve_async(run_id)).status == "QUEUED"


def test_twins_keep_url_key_timeout_and_retries() -> None:
    sync = HttpTransport("http://example.invalid/prefix", "ol_key", timeout=7.0, retries=1)
    twin = async_twin(sync)
    assert isinstance(twin, AsyncHttpTransport)
    assert (twin.url, twin.api_key, twin.timeout, twin.retries) == (
        "http://example.invalid/prefix", "ol_key", 7.0, 1)
    assert str(twin.http.base_url) == str(sync.http.base_url)
    back = sync_twin(twin)
    assert isinstance(back, HttpTransport)
    assert (back.url, back.api_key, back.timeout, back.retries) == (
        "http://example.invalid/prefix", "ol_key", 7.0, 1)
    sync.close()
    back.close()


class _Custom:
    """A transport of the caller's own."""

    def send(self, call: Call) -> Any:
        return {"path": call.path}

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


def test_a_custom_transport_is_called_from_a_thread_and_cannot_be_turned_blocking() -> None:
    custom = _Custom()
    twin = async_twin(custom)
    assert isinstance(twin, ThreadedTransport) and sync_twin(twin) is custom
    assert asyncio.run(twin.send(Call("GET", "/runs/x"))) == {"path": "/runs/x"}

    class AsyncOnly:
        async def send(self, call: Call) -> Any:
            return None

        async def aclose(self) -> None:
            pass

    outlast.configure(async_client=AsyncClient(transport=AsyncOnly()))
    with pytest.raises(ConfigError, match=r"configure\(client=..., async_client=...\)"):
        runs.list()
