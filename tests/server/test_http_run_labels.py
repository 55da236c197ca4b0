"""Metadata and tags from outside a run: ``PUT /runs/{id}/metadata``, ``POST /runs/{id}/tags``
and the ``runs`` client calls over HTTP and straight to the database; subscribers see
every change live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.server.collector import Collector

import outlast
from outlast.core.durable_requests import UpdateRelatedMetadata
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, Outcome
from outlast.errors import (
    InvalidTransitionError,
    PayloadTooLargeError,
    RunNotFoundError,
    ValidationError,
)
from outlast.worker import runtime

API = "/api/v1"
LiveServer = Any


def new_run(engine: Engine, task: str = "hello", parent: str | None = None,
            root: str | None = None, **options: Any) -> str:
    request = NewRun(task, "{}", TriggerOptions(**options), parent_id=parent, root_id=root)
    return str(engine.trigger("dev", request).row["id"])


def claim(engine: Engine, queue: str = "hello") -> dict[str, Any]:
    [row] = engine.claim("dev", "w1", [queue], 1)
    return dict(row)


def finish(engine: Engine, row: dict[str, Any]) -> None:
    engine.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed",
                           output="done")])


def test_put_metadata_sets_keys_then_applies_operations(client: TestClient,
                                                       engine: Engine) -> None:
    run_id = new_run(engine, metadata={"n": 1, "old": True})
    body = {"set": {"stage": "review"},
            "operations": [{"op": "increment", "key": "n", "value": 4},
                           {"op": "decrement", "key": "n", "value": 2},
                           {"op": "append", "key": "log", "value": "edited"},
                           {"op": "delete", "key": "old"}]}
    r = client.put(f"{API}/runs/{run_id}/metadata", json=body)
    assert r.status_code == 200, r.text
    expected = {"n": 3, "stage": "review", "log": ["edited"]}
    assert r.json() == {"metadata": expected}
    assert client.get(f"{API}/runs/{run_id}").json()["metadata"] == expected


@pytest.mark.parametrize(("body", "status"), [
    ({"metadata": {"a": 1}}, 400),
    ({"set": [1]}, 400),
    ({"operations": {"op": "set"}}, 400),
    ({"operations": [{"op": "explode", "key": "a"}]}, 400),
    ({"operations": [{"op": "increment", "key": "a", "value": "x"}]}, 400),
    ({"set": {"big": "x" * 300_000}}, 413),
    ([1, 2], 400),
])
def test_put_metadata_refuses_bad_bodies_and_changes_nothing(
        client: TestClient, engine: Engine, body: Any, status: int) -> None:
    run_id = new_run(engine, metadata={"a": 1})
    r = client.put(f"{API}/runs/{run_id}/metadata", json=body)
    assert r.status_code == status, r.text
    assert client.get(f"{API}/runs/{run_id}").json()["metadata"] == {"a": 1}


def test_put_metadata_on_a_final_or_unknown_run(client: TestClient, engine: Engine) -> None:
    run_id = new_run(engine)
    assert client.post(f"{API}/runs/{run_id}/cancel").status_code == 200
    r = client.put(f"{API}/runs/{run_id}/metadata", json={"set": {"a": 1}})
    assert r.status_code == 409
    assert "finished run" in r.json()["error"]["message"]
    r = client.put(f"{API}/runs/run_nope/metadata", json={"set": {"a": 1}})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "run_not_found")


def test_post_tags_adds_once_and_enforces_the_limit(client: TestClient,
                                                    engine: Engine) -> None:
    run_id = new_run(engine, tags=["a"])
    r = client.post(f"{API}/runs/{run_id}/tags", json={"tags": ["b", "a", "c"]})
    assert (r.status_code, r.json()) == (200, {"tags": ["a", "b", "c"]})
    too_many = client.post(f"{API}/runs/{run_id}/tags",
                           json={"tags": [f"x{i}" for i in range(8)]})
    assert too_many.status_code == 400
    assert "limit of 10 tags" in too_many.json()["error"]["message"]
    for bad in ({"tags": ["y" * 129]}, {"tags": []}, {"tag": "x"}, {"tags": [None]}):
        assert client.post(f"{API}/runs/{run_id}/tags", json=bad).status_code == 400
    assert client.get(f"{API}/runs", params={"tag": "b"}).json()["data"][0]["id"] == run_id
    assert client.get(f"{API}/runs/{run_id}").json()["tags"] == ["a", "b", "c"]
    assert client.post(f"{API}/runs/run_nope/tags", json={"tags": ["x"]}).status_code == 404


# -- clients, both transports ---------------------------------------------------------


@pytest.fixture(params=["http", "database"])
def any_client(request: pytest.FixtureRequest, store_url: str, engine: Engine,
               tasks: tuple[str, ...]) -> Iterator[outlast.Client]:
    if request.param == "http":
        server = request.getfixturevalue("live_server")
        with outlast.Client(url=server.url, api_key=engine.create_api_key("dev")) as c:
            yield c
        return
    with outlast.Client(database_url=store_url, environment="dev") as c:
        yield c


def test_clients_update_metadata_add_tags_and_filter(any_client: outlast.Client,
                                                     engine: Engine) -> None:
    root = new_run(engine, metadata={"done": 0})
    child = new_run(engine, parent=root)
    assert any_client.runs.update_metadata(root, {"phase": "two"}) == {"done": 0,
                                                                       "phase": "two"}
    ops = [{"op": "increment", "key": "done", "value": 1}]
    assert any_client.runs.update_metadata(root, operations=ops)["done"] == 1
    assert any_client.runs.add_tags(child, "user:1") == ["user:1"]
    assert any_client.runs.add_tags(child, ["user:1", "team:2"]) == ["user:1", "team:2"]
    assert [r.id for r in any_client.runs.list(root_id=root)] == [child]
    assert [r.id for r in any_client.runs.list(tag="team:2", parent_id=root)] == [child]
    with pytest.raises(ValidationError, match="limit of 10"):
        any_client.runs.add_tags(child, [f"t{i}" for i in range(9)])
    with pytest.raises(ValidationError):
        any_client.runs.update_metadata(root)
    with pytest.raises(PayloadTooLargeError):
        any_client.runs.update_metadata(root, {"big": "x" * 300_000})
    with pytest.raises(RunNotFoundError):
        any_client.runs.update_metadata("run_nope", {"a": 1})
    assert any_client.runs.cancel(root).is_final
    with pytest.raises(InvalidTransitionError):
        any_client.runs.update_metadata(root, {"a": 1})


def test_async_client_and_module_facade(live_server: LiveServer, engine: Engine) -> None:
    run_id = new_run(engine)
    key = engine.create_api_key("dev")

    async def main() -> tuple[dict[str, Any], list[str]]:
        async with outlast.AsyncClient(url=live_server.url, api_key=key) as c:
            meta = await c.runs.update_metadata(run_id, {"a": 1})
            return meta, await c.runs.add_tags(run_id, ["async"])

    assert asyncio.run(main()) == ({"a": 1}, ["async"])
    with outlast.Client(url=live_server.url, api_key=key) as default:
        outlast.configure(default)
        try:
            assert outlast.runs.update_metadata(run_id, operations=[
                {"op": "append", "key": "log", "value": 1}]) == {"a": 1, "log": [1]}
            assert outlast.runs.add_tags(run_id, "facade") == ["async", "facade"]
        finally:
            outlast.configure(None)


# -- live ---------------------------------------------------------------------------------


def test_subscribers_of_the_parent_see_a_childs_update_live(
        live_server: LiveServer, engine: Engine, eventually: Callable[..., None]) -> None:
    parent_id = new_run(engine)
    parent = claim(engine)
    child_id = new_run(engine, "other", parent=parent_id)
    child = claim(engine, "other")
    with outlast.Client(url=live_server.url, api_key=engine.create_api_key("dev")) as c:
        seen = Collector(lambda: c.runs.subscribe(parent_id))
        eventually(lambda: len(seen.items) == 1)
        # what a worker does for ``metadata.parent.increment("done")`` in the child
        done = runtime.dispatch(engine, "dev", UpdateRelatedMetadata(
            child_id, child["lease_id"], [{"op": "increment", "key": "done", "value": 1}],
            "parent"))
        assert done == {"run_id": parent_id, "metadata": {"done": 1}, "applied": True}
        eventually(lambda: len(seen.items) == 2)
        finish(engine, parent)
        runs = seen.join()
    assert runs[1].metadata == {"done": 1} and runs[1].status == "EXECUTING"
    assert runs[-1].is_final


def test_tag_subscribers_see_a_run_once_it_is_tagged(
        live_server: LiveServer, engine: Engine, eventually: Callable[..., None]) -> None:
    tagged_later = new_run(engine)
    with outlast.Client(url=live_server.url, api_key=engine.create_api_key("dev")) as c:
        by_tag = Collector(lambda: _first(c.runs.subscribe(tag="vip"), 1))
        own = Collector(lambda: c.runs.subscribe(tagged_later))
        eventually(lambda: len(own.items) == 1)
        assert by_tag.items == []
        c.runs.add_tags(tagged_later, ["vip"])
        [run] = by_tag.join()
        eventually(lambda: len(own.items) == 2)
        c.runs.cancel(tagged_later)
        snapshots = own.join()
    assert (run.id, run.tags) == (tagged_later, ["vip"])
    assert [s.tags for s in snapshots] == [[], ["vip"], ["vip"]]


def _first(source: Iterator[outlast.Run], count: int) -> Iterator[outlast.Run]:
    for i, item in enumerate(source, start=1):
        yield item
        if i >= count:
            return
