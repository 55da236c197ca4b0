"""Pinning a run to a version at trigger time (``version=``, alias ``lock_to_version=``)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient
from tests.versions.support import register

from outlast.engine import Engine

API = "/api/v1"


def error_of(response: Any) -> dict[str, Any]:
    return dict(response.json()["error"])


def test_a_run_triggered_with_a_version_is_pinned_to_it(client: TestClient,
                                                        engine: Engine) -> None:
    register(engine, "20261204.1", ["hello"])
    register(engine, "20261205.1", ["hello"])  # current now; the run still goes to .1
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"version": "20261204.1"}})
    assert r.status_code == 201, r.json()
    run = client.get(f"{API}/runs/{r.json()['id']}").json()
    assert run["version"] == "20261204.1"
    assert run["waiting_for"] == "a worker of version 20261204.1"


def test_lock_to_version_is_the_same_option(client: TestClient, engine: Engine) -> None:
    register(engine, "v1", ["hello"])
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"lock_to_version": "v1"}})
    assert client.get(f"{API}/runs/{r.json()['id']}").json()["version"] == "v1"
    both = client.post(f"{API}/tasks/hello/trigger", json={
        "payload": 1, "options": {"version": "v1", "lock_to_version": "v2"}})
    assert both.status_code == 400
    assert "differ" in error_of(both)["message"]


def test_an_unknown_version_is_refused(client: TestClient, engine: Engine) -> None:
    register(engine, "v1", ["hello"])
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"version": "v9"}})
    assert r.status_code == 400
    assert error_of(r)["code"] == "unknown_version"
    assert "'v9' is not registered in environment 'dev'" in error_of(r)["message"]


def test_a_version_without_the_task_is_refused(client: TestClient, engine: Engine) -> None:
    register(engine, "v1", ["other"])
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"version": "v1"}})
    assert r.status_code == 400
    assert error_of(r)["code"] == "unknown_version"
    assert "version 'v1' has no task 'hello'" in error_of(r)["message"]


def test_a_bad_version_name_is_refused(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"version": "no spaces/"}})
    assert r.status_code == 400
    assert "is not a version name" in error_of(r)["message"]


def test_batch_items_pin_and_one_bad_item_creates_none(client: TestClient,
                                                        engine: Engine) -> None:
    register(engine, "v1", ["hello"])
    good = {"payload": 1, "options": {"version": "v1"}}
    r = client.post(f"{API}/tasks/hello/batch", json={"items": [good, {"payload": 2}]})
    assert r.status_code == 201, r.json()
    pinned = [client.get(f"{API}/runs/{x['id']}").json()["version"] for x in r.json()["runs"]]
    assert pinned == ["v1", None]
    bad = client.post(f"{API}/tasks/hello/batch", json={
        "items": [good, {"payload": 3, "options": {"version": "v2"}}]})
    assert (bad.status_code, error_of(bad)["code"]) == (400, "unknown_version")
    assert len(client.get(f"{API}/runs", params={"limit": 100}).json()["data"]) == 2
    across = client.post(f"{API}/batch", json={"items": [
        {"task": "hello", "payload": 4, "options": {"version": "v1"}}]})
    assert across.status_code == 201, across.json()
