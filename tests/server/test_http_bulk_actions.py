"""Bulk actions over HTTP: create by filter (the query of GET /runs), watch the record's
progress, abort, 400 for a bad filter and 404 for an unknown id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from outlast.clock import FakeClock
from outlast.engine import Engine, bulk_work
from outlast.server.app import create_app

API = "/api/v1"


def trigger(client: TestClient, task: str = "hello", **options: Any) -> str:
    r = client.post(f"{API}/tasks/{task}/trigger", json={"payload": None, "options": options})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def listed(client: TestClient, **params: Any) -> set[str]:
    r = client.get(f"{API}/runs", params=params | {"limit": 1000})
    assert r.status_code == 200, r.text
    return {run["id"] for run in r.json()["data"]}


def test_cancel_by_filter_touches_exactly_the_runs_the_list_shows(
        client: TestClient, engine: Engine, clock: FakeClock) -> None:
    old = [trigger(client, "hello", tags=["batch:1"]) for _ in range(3)]
    clock.advance(60)
    new = [trigger(client, "hello", tags=["batch:1"]) for _ in range(2)]
    other = trigger(client, "other", tags=["batch:1"])
    client.post(f"{API}/runs/{new[0]}/cancel")
    query = {"task": "hello", "tag": "batch:1", "created_after": str(clock.now() - 30)}
    shown = listed(client, **query)
    assert shown == set(new)

    r = client.post(f"{API}/bulk-actions", json={"action": "cancel", "filter": query})
    assert r.status_code == 202, r.text
    action = r.json()
    assert (action["status"], action["action"]) == ("PENDING", "cancel")
    assert action["filter"] == {"task": "hello", "tag": "batch:1",
                                "created_after": clock.now() - 30}
    bulk_work.run_to_end(engine)

    done = client.get(f"{API}/bulk-actions/{action['id']}").json()
    assert (done["status"], done["total"], done["processed"], done["succeeded"],
            done["skipped"], done["failed"]) == ("COMPLETED", 2, 2, 1, 1, 0)
    statuses = {r: client.get(f"{API}/runs/{r}").json()["status"] for r in [*old, other]}
    assert set(statuses.values()) == {"QUEUED"}
    assert listed(client, status="CANCELED") == set(new)


def test_replay_by_status_creates_runs_replayed_from_each(
        client: TestClient, engine: Engine) -> None:
    failed = [trigger(client) for _ in range(2)]
    for run_id in failed:
        client.post(f"{API}/runs/{run_id}/cancel")
    r = client.post(f"{API}/bulk-actions", json={
        "action": "replay", "filter": {"status": ["CANCELED"]}, "payload": {"again": 1}})
    assert r.status_code == 202, r.text
    bulk_work.run_to_end(engine)
    assert client.get(f"{API}/bulk-actions/{r.json()['id']}").json()["succeeded"] == 2
    runs = client.get(f"{API}/runs", params={"status": "QUEUED"}).json()["data"]
    assert sorted(run["replayed_from"] for run in runs) == sorted(failed)
    assert {str(run["payload"]) for run in runs} == {"{'again': 1}"}


def test_by_ids_list_and_abort(client: TestClient, engine: Engine) -> None:
    ids = [trigger(client) for _ in range(3)]
    r = client.post(f"{API}/bulk-actions", json={"action": "cancel", "run_ids": ids})
    assert r.status_code == 202 and r.json()["total"] == 3
    action_id = r.json()["id"]
    page = client.get(f"{API}/bulk-actions").json()
    assert [a["id"] for a in page["data"]] == [action_id] and page["next_cursor"] is None
    aborted = client.post(f"{API}/bulk-actions/{action_id}/abort")
    assert aborted.status_code == 200 and aborted.json()["status"] == "ABORTED"
    assert bulk_work.run_to_end(engine) == 0
    assert listed(client, status="QUEUED") == set(ids)


def test_count_says_how_many_runs_a_filter_would_touch(client: TestClient) -> None:
    for _ in range(3):
        trigger(client, "other")
    r = client.post(f"{API}/bulk-actions/count", json={"filter": {"task": "other"}})
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 3 and r.json()["filter"] == {"task": "other"}
    assert client.get(f"{API}/bulk-actions").json()["data"] == []


@pytest.mark.parametrize("body", [
    {"action": "cancel", "filter": {"status": "DONE"}},
    {"action": "cancel", "filter": {"colour": "red"}},
    {"action": "cancel", "filter": {"created_after": "yesterday"}},
    {"action": "cancel", "filter": {"task": ["a", "b"]}},
    {"action": "cancel", "filter": {"limit": 5}},
    {"action": "cancel", "filter": "task=a"},
    {"action": "cancel"},
    {"action": "delete", "filter": {}},
    {"action": "cancel", "filter": {}, "run_ids": ["run_x"]},
    {"action": "cancel", "run_ids": "run_x"},
    {"action": "cancel", "run_ids": [1]},
    {"action": "cancel", "filter": {}, "payload": 1},
    {"action": "cancel", "filter": {}, "dry": True},
    [1],
])
def test_bad_requests_are_400_and_create_nothing(client: TestClient, body: Any) -> None:
    r = client.post(f"{API}/bulk-actions", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_request"
    assert client.get(f"{API}/bulk-actions").json()["data"] == []


@pytest.mark.parametrize("call", [
    lambda c: c.get(f"{API}/bulk-actions/bulk_unknown"),
    lambda c: c.post(f"{API}/bulk-actions/bulk_unknown/abort"),
])
def test_unknown_id_is_404(client: TestClient, call: Callable[[TestClient], Any]) -> None:
    r = call(client)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_another_environment_sees_none_of_them(
        client: TestClient, as_env: Callable[[str], TestClient]) -> None:
    action_id = client.post(f"{API}/bulk-actions", json={
        "action": "cancel", "filter": {}}).json()["id"]
    staging = as_env("staging")
    assert staging.get(f"{API}/bulk-actions/{action_id}").status_code == 404
    assert staging.get(f"{API}/bulk-actions").json()["data"] == []


def test_the_servers_upkeep_does_the_work(engine: Engine, tasks: tuple[str, ...], dev_key: str,
                                          eventually: Callable[..., Any]) -> None:
    """No test drives it: the server holding the upkeep lease moves the action on."""
    app: Starlette = create_app(engine, dev_api_key=dev_key, scheduler=True)
    with TestClient(app, headers={"Authorization": f"Bearer {dev_key}"}) as client:
        ids = [trigger(client) for _ in range(3)]
        action_id = client.post(f"{API}/bulk-actions", json={
            "action": "cancel", "filter": {"task": "hello"}}).json()["id"]

        def finished() -> bool:
            action = client.get(f"{API}/bulk-actions/{action_id}").json()
            return bool(action["status"] == "COMPLETED")

        eventually(finished)
        assert listed(client, status="CANCELED") == set(ids)
