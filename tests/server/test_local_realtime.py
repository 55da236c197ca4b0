"""``runs.subscribe`` and ``runs.stream`` of a client bound to a database, on both stores.

In process there is no server-sent event stream: the SDK polls the feeds of the in-process
API (``outlast.api.local.LocalApi``) and yields what a subscriber over HTTP would see.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from tests.server.collector import Collector

import outlast
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, Outcome
from outlast.errors import ConfigError, RunNotFoundError
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport


def new_run(engine: Engine, **options: Any) -> str:
    return str(engine.trigger("dev", NewRun("hello", "{}", TriggerOptions(**options)))
               .row["id"])


def claim(engine: Engine) -> dict[str, Any]:
    [row] = engine.claim("dev", "w1", None, 1)
    return dict(row)


def complete(engine: Engine, row: dict[str, Any]) -> None:
    engine.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed",
                           output="done")])


pytestmark = pytest.mark.usefixtures("tasks")


@pytest.fixture
def client(engine: Engine) -> outlast.Client:
    return outlast.Client(transport=LocalTransport(engine, "dev"))


def test_a_subscriber_sees_every_change_until_final(
        client: outlast.Client, engine: Engine, eventually: Callable[..., None]) -> None:
    run_id = new_run(engine)
    seen = Collector(lambda: client.runs.subscribe(run_id))
    eventually(lambda: len(seen.items) == 1)
    row = claim(engine)
    eventually(lambda: len(seen.items) == 2)
    complete(engine, row)
    runs = seen.join()
    assert [r.status for r in runs] == ["QUEUED", "EXECUTING", "COMPLETED"]
    assert runs[-1].output == "done" and runs[-1].is_final


def test_a_tag_subscriber_sees_the_tagged_runs(client: outlast.Client, engine: Engine) -> None:
    tagged = new_run(engine, tags=["team"])
    new_run(engine)
    runs = list(itertools.islice(client.runs.subscribe(tag="team"), 1))
    assert [r.id for r in runs] == [tagged]


def test_subscribing_checks_its_arguments_and_the_run(client: outlast.Client) -> None:
    with pytest.raises(ConfigError):
        client.runs.subscribe("run_x", tag="team")
    with pytest.raises(RunNotFoundError):
        next(iter(client.runs.subscribe("run_missing")))


def test_a_stream_reader_gets_every_chunk_then_the_end(
        client: outlast.Client, engine: Engine) -> None:
    run_id = new_run(engine)
    row = claim(engine)
    engine.realtime.append_chunks(run_id, row["lease_id"], "llm", ["a", {"b": 1}])
    complete(engine, row)
    assert list(client.runs.stream(run_id, "llm")) == ["a", {"b": 1}]


def test_the_async_client_follows_runs_and_streams_in_process(engine: Engine) -> None:
    run_id = new_run(engine)
    row = claim(engine)
    engine.realtime.append_chunks(run_id, row["lease_id"], "llm", ["x"])
    complete(engine, row)

    async def follow() -> tuple[list[str], list[Any]]:
        async with outlast.AsyncClient(
                transport=AsyncLocalTransport(LocalTransport(engine, "dev"))) as aclient:
            statuses = [r.status async for r in aclient.runs.subscribe(run_id)]
            chunks = [c async for c in aclient.runs.stream(run_id, "llm")]
        return statuses, chunks

    assert asyncio.run(follow()) == (["COMPLETED"], ["x"])


def test_closing_a_client_closes_only_the_database_it_opened(
        engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[str] = []
    monkeypatch.setattr(engine.store, "close", lambda: closed.append("lent"))
    outlast.Client(transport=LocalTransport(engine, "dev")).close()
    assert closed == []  # the engine is lent: its owner closes it

    own = outlast.Client(database_url=store_url)
    store = own.transport.api.engine.store
    real_close = store.close
    monkeypatch.setattr(store, "close", lambda: (closed.append("own"), real_close()))
    own.close()
    assert closed == ["own"]
