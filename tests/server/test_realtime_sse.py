"""Realtime over server-sent events against a live uvicorn, on both stores: run snapshots,
runs by tag, streams, reconnecting with Last-Event-ID, heartbeats and public tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from tests.server.collector import Collector

import outlast
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, Outcome
from outlast.errors import AuthError, ForbiddenError, RunNotFoundError
from outlast.sdk.realtime import ServerEvent, parse

LiveServer = Any  # tests/server/conftest.py's live uvicorn


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_run(engine: Engine, task: str = "hello", env: str = "dev", **options: Any) -> str:
    return str(engine.trigger(env, NewRun(task, "{}", TriggerOptions(**options))).row["id"])


def claim(engine: Engine, env: str = "dev") -> dict[str, Any]:
    [row] = engine.claim(env, "w1", None, 1)
    return dict(row)


def complete(engine: Engine, row: dict[str, Any], output: Any = "done") -> None:
    engine.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed",
                           output=output)])


def raw_events(url: str, path: str, headers: dict[str, str], count: int,
               params: dict[str, str] | None = None) -> list[ServerEvent]:
    """Read ``count`` events (or until the server ends the stream), then hang up."""
    out: list[ServerEvent] = []
    with httpx.stream("GET", url + path, headers=headers, params=params, timeout=30) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        for event in parse(r.iter_lines()):
            out.append(event)
            if len(out) >= count:
                break
    return out


@pytest.fixture
def client(live_server: LiveServer, dev_key: str) -> Iterator[outlast.Client]:
    with outlast.Client(url=live_server.url, api_key=dev_key) as c:
        yield c


def test_a_subscriber_sees_every_change_until_final(
        client: outlast.Client, engine: Engine, eventually: Callable[..., None]) -> None:
    run_id = new_run(engine)
    seen = Collector(lambda: client.runs.subscribe(run_id))
    eventually(lambda: len(seen.items) == 1)
    row = claim(engine)
    eventually(lambda: len(seen.items) == 2)
    engine.realtime.update_metadata(run_id, row["lease_id"],
                                    [{"op": "set", "key": "progress", "value": 0.5}])
    eventually(lambda: len(seen.items) == 3)
    complete(engine, row)
    runs = seen.join()
    assert [r.status for r in runs] == ["QUEUED", "EXECUTING", "EXECUTING", "COMPLETED"]
    assert runs[2].metadata == {"progress": 0.5}
    assert runs[-1].output == "done" and runs[-1].is_final


def test_reconnecting_with_last_event_id_resumes(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    run_id = new_run(engine)
    path = f"/api/v1/runs/{run_id}/subscribe"
    [first] = raw_events(live_server.url, path, auth(dev_key), 1)
    assert first.event == "run" and first.id is not None
    row = claim(engine)
    engine.realtime.update_metadata(run_id, row["lease_id"],
                                    [{"op": "set", "key": "step", "value": 1}])
    resumed = raw_events(live_server.url, path, auth(dev_key) | {
        "Last-Event-ID": str(first.id)}, 1)
    assert resumed[0].id is not None and resumed[0].id > first.id
    assert '"step":1' in resumed[0].data
    complete(engine, row)
    after_final = raw_events(live_server.url, path, auth(dev_key), 5)
    assert len(after_final) == 1 and '"COMPLETED"' in after_final[0].data
    assert after_final[0].id is not None
    # caught up with a final run: the server ends the stream at once
    assert raw_events(live_server.url, path, auth(dev_key) | {
        "Last-Event-ID": str(after_final[0].id)}, 5) == []


def test_subscribe_by_tag_sees_new_and_changing_runs(
        client: outlast.Client, engine: Engine, eventually: Callable[..., None]) -> None:
    old = new_run(engine, tags=("user:1",))
    new_run(engine, tags=("user:2",))
    found: list[outlast.Run] = []

    def follow() -> Iterator[outlast.Run]:
        for run in client.runs.subscribe(tag="user:1"):
            yield run
            if run.status == "EXECUTING":
                return

    seen = Collector(follow)
    eventually(lambda: [r.id for r in seen.items] == [old])
    fresh = new_run(engine, "other", tags=("user:1",))
    eventually(lambda: fresh in [r.id for r in seen.items])
    engine.claim("dev", "w1", ["other"], 1)
    found = seen.join()
    assert [(r.id, r.status) for r in found] == [(old, "QUEUED"), (fresh, "QUEUED"),
                                                 (fresh, "EXECUTING")]


def test_ten_thousand_chunks_arrive_complete_and_in_order(
        client: outlast.Client, engine: Engine, eventually: Callable[..., None]) -> None:
    run_id = new_run(engine)
    row = claim(engine)
    early = Collector(lambda: client.runs.stream(run_id, "llm"))
    for start in range(0, 5_000, 500):
        engine.realtime.append_chunks(run_id, row["lease_id"], "llm",
                                      [{"i": i} for i in range(start, start + 500)])
    eventually(lambda: len(early.items) == 5_000)
    late = Collector(lambda: client.runs.stream(run_id, "llm"))  # joins halfway through
    for start in range(5_000, 10_000, 500):
        engine.realtime.append_chunks(run_id, row["lease_id"], "llm",
                                      [{"i": i} for i in range(start, start + 500)])
    complete(engine, row)
    expected = [{"i": i} for i in range(10_000)]
    assert early.join() == expected
    assert late.join() == expected
    assert list(client.runs.stream(run_id, "other-key")) == []


def test_a_stream_resumes_after_last_event_id(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    run_id = new_run(engine)
    row = claim(engine)
    engine.realtime.append_chunks(run_id, row["lease_id"], "s", list(range(10)))
    complete(engine, row)
    path = f"/api/v1/runs/{run_id}/streams/s"
    events = raw_events(live_server.url, path, auth(dev_key) | {"Last-Event-ID": "7"}, 10)
    assert [(e.id, e.event, e.data) for e in events] == [
        (8, "chunk", "7"), (9, "chunk", "8"), (10, "chunk", "9"), (10, "end", "{}")]


def test_heartbeats_keep_idle_connections_open(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    live_server.server.config.app.state.realtime.heartbeat = 0.2
    run_id = new_run(engine)
    lines: list[str] = []
    with httpx.stream("GET", f"{live_server.url}/api/v1/runs/{run_id}/subscribe",
                      headers=auth(dev_key), timeout=10) as r:
        for line in r.iter_lines():
            lines.append(line)
            if line.startswith(":"):
                break
    assert ": heartbeat" in lines


def test_async_client_subscribes_and_streams(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    run_id = new_run(engine)
    row = claim(engine)
    engine.realtime.append_chunks(run_id, row["lease_id"], "s", ["a", "b"])
    complete(engine, row)

    async def main() -> tuple[list[str], list[Any]]:
        async with outlast.AsyncClient(url=live_server.url, api_key=dev_key) as c:
            statuses = [r.status async for r in c.runs.subscribe(run_id)]
            chunks = [chunk async for chunk in c.runs.stream(run_id, "s")]
        return statuses, chunks

    statuses, chunks = asyncio.run(main())
    assert statuses == ["COMPLETED"] and chunks == ["a", "b"]


# -- public tokens and isolation ---------------------------------------------------------


def test_public_tokens_read_only_their_run_or_tag(
        client: outlast.Client, live_server: LiveServer, engine: Engine) -> None:
    mine = new_run(engine, tags=("user:1",))
    other = new_run(engine, tags=("user:2",))
    token = client.auth.create_public_token(run_id=mine, ttl="5m")
    assert token.startswith("olpt_")
    with outlast.Client(url=live_server.url, api_key=token) as browser:
        assert next(iter(browser.runs.subscribe(mine))).id == mine
        with pytest.raises(ForbiddenError):
            next(iter(browser.runs.subscribe(other)))
        with pytest.raises(ForbiddenError):
            next(iter(browser.runs.subscribe(tag="user:1")))
        with pytest.raises(AuthError):
            browser.runs.retrieve(mine)  # everything that is not realtime: 401
        with pytest.raises(AuthError):
            browser.tasks.trigger("hello", {})
        with pytest.raises(AuthError):
            browser.auth.create_public_token(run_id=mine)
    # browsers' EventSource cannot send headers: the token may travel in the query
    [event] = raw_events(live_server.url, f"/api/v1/runs/{mine}/subscribe", {}, 1,
                         params={"access_token": token})
    assert event.event == "run"
    tagged = client.auth.create_public_token(tag="user:1")
    with outlast.Client(url=live_server.url, api_key=tagged) as browser:
        assert next(iter(browser.runs.subscribe(tag="user:1"))).id == mine
        assert next(iter(browser.runs.subscribe(mine))).id == mine  # carries the tag
        with pytest.raises(ForbiddenError):
            next(iter(browser.runs.subscribe(other)))
        with pytest.raises(ForbiddenError):
            next(iter(browser.runs.stream(other, "s")))


def test_forged_and_expired_tokens_are_refused(
        client: outlast.Client, live_server: LiveServer, engine: Engine,
        clock: Any) -> None:
    run_id = new_run(engine)
    token = client.auth.create_public_token(run_id=run_id, ttl=60)
    body, _, signature = token.partition(".")
    for bad in (body + "." + signature[::-1], "olpt_garbage", body + "."):
        r = httpx.get(f"{live_server.url}/api/v1/runs/{run_id}/subscribe", headers=auth(bad))
        assert r.status_code == 401, bad
    clock.advance(61)
    r = httpx.get(f"{live_server.url}/api/v1/runs/{run_id}/subscribe", headers=auth(token))
    assert r.status_code == 401 and "expired" in r.text


def test_environments_are_isolated_on_every_realtime_endpoint(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    run_id = new_run(engine, tags=("shared",))
    staging = engine.create_api_key("staging")
    base = f"{live_server.url}/api/v1"
    for path in (f"/runs/{run_id}/subscribe", f"/runs/{run_id}/streams/llm"):
        assert httpx.get(base + path).status_code == 401
        r = httpx.get(base + path, headers=auth(staging))
        assert r.status_code == 404 and r.json()["error"]["code"] == "run_not_found"
    r = httpx.post(base + "/auth/public-tokens", json={"scope": {"run_id": run_id}},
                   headers=auth(staging))
    assert r.status_code == 404
    # a staging tag subscription does not see dev's runs with the same tag
    token = httpx.post(base + "/auth/public-tokens", json={"scope": {"tag": "shared"}},
                       headers=auth(staging)).json()["token"]
    with httpx.stream("GET", base + "/runs/subscribe", params={"tag": "shared"},
                      headers=auth(token), timeout=2) as r:
        assert r.status_code == 200
        lines: list[str] = []
        with pytest.raises(httpx.ReadTimeout):
            for line in r.iter_lines():
                lines.append(line)
        assert not any(line.startswith("data:") for line in lines)


def test_public_token_requests_are_checked(
        live_server: LiveServer, engine: Engine, dev_key: str) -> None:
    base = f"{live_server.url}/api/v1/auth/public-tokens"
    for body in ({}, {"scope": {}}, {"scope": {"run_id": "r", "tag": "t"}},
                 {"scope": {"tag": ""}}, {"scope": {"tag": "t"}, "ttl": "40d"},
                 {"scope": {"tag": "t"}, "extra": 1}):
        r = httpx.post(base, json=body, headers=auth(dev_key))
        assert r.status_code == 400, body
    with outlast.Client(url=live_server.url, api_key=dev_key) as c, \
            pytest.raises(RunNotFoundError):
        c.auth.create_public_token(run_id="run_missing")
