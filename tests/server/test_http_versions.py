"""``/api/v1/versions`` on SQLite and PostgreSQL: what an operator sees before stopping
old workers, promoting and retiring versions, and the errors they get."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import T0, trigger_run
from tests.server.test_openapi_schemas import _Conformance
from tests.versions.support import add_version, live_worker, pin

from outlast.clock import FakeClock
from outlast.engine import Engine

API = "/api/v1"


@pytest.fixture
def deployed(engine: Engine, clock: FakeClock, tasks: tuple[str, ...]) -> str:
    """v1 (hello) with a live worker and a queued run pinned to it; v2 (hello, other)
    current since a second later. Returns the pinned run's id."""
    add_version(engine, "v1", ["hello"])
    live_worker(engine, "worker-1", "v1")
    run_id = str(trigger_run(engine, "hello", {"n": 1}).row["id"])
    pin(engine, run_id, "v1")
    clock.advance(1)
    add_version(engine, "v2", ["hello", "other"])
    return run_id


def _get(client: TestClient, path: str) -> Any:
    answer = client.get(API + path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_an_operator_sees_which_old_versions_are_still_needed(
        client: TestClient, engine: Engine, deployed: str) -> None:
    v2, v1 = _get(client, "/versions")["data"]  # newest first
    assert (v2["version"], v2["state"], v2["tasks"], v2["safe_to_stop"]) == (
        "v2", "current", ["hello", "other"], False)  # the current one is never safe to stop
    assert (v1["version"], v1["state"], v1["source"], v1["tasks"]) == (
        "v1", "draining", "worker", ["hello"])
    assert (v1["live_workers"], v1["pinned_runs"], v1["safe_to_stop"]) == (
        1, {"QUEUED": 1}, False)
    assert (v1["created_at"], v1["promoted_at"], v1["retired_at"]) == (T0, T0, None)

    engine.cancel("dev", deployed)  # the last run that needed v1 is final
    v1 = _get(client, "/versions")["data"][1]
    assert (v1["pinned_runs"], v1["safe_to_stop"]) == ({}, True)


def test_show_gives_the_tasks_definitions_and_the_workers(
        client: TestClient, deployed: str) -> None:
    v1 = _get(client, "/versions/v1")
    assert [d["id"] for d in v1["definitions"]] == ["hello"]
    assert v1["definitions"][0]["queue"] == "hello"
    [worker] = v1["workers"]
    assert (worker["id"], worker["hostname"], worker["pid"], worker["queues"]) == (
        "worker-1", "box", 7, ["*"])
    assert _get(client, "/versions/v2")["workers"] == []


def test_a_retire_is_refused_while_a_run_is_pinned_and_allowed_once_it_is_final(
        client: TestClient, engine: Engine, clock: FakeClock, deployed: str) -> None:
    refused = client.post(API + "/versions/v1/retire", json={})
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "conflict"
    assert "1 unfinished run pinned to it (1 QUEUED)" in error["message"]
    assert "outlast runs move ID --version V" in error["message"]
    assert _get(client, "/versions/v1")["state"] == "draining"  # nothing changed

    engine.cancel("dev", deployed)
    clock.advance(5)
    retired = client.post(API + "/versions/v1/retire", json={})
    assert retired.status_code == 200, retired.text
    assert (retired.json()["state"], retired.json()["retired_at"]) == ("retired", T0 + 6)


def test_the_current_version_cannot_be_retired(client: TestClient, deployed: str) -> None:
    refused = client.post(API + "/versions/v2/retire", json={})
    assert refused.status_code == 409
    assert "v2 is current" in refused.json()["error"]["message"]
    assert "outlast versions promote" in refused.json()["error"]["message"]


def test_promote_makes_a_version_current_and_the_current_one_drains(
        client: TestClient, engine: Engine, clock: FakeClock, deployed: str) -> None:
    engine.cancel("dev", deployed)
    assert client.post(API + "/versions/v1/retire", json={}).status_code == 200
    clock.advance(10)
    promoted = client.post(API + "/versions/v1/promote", json={})  # a retired one too
    assert promoted.status_code == 200, promoted.text
    assert (promoted.json()["state"], promoted.json()["promoted_at"],
            promoted.json()["retired_at"]) == ("current", T0 + 11, None)
    assert _get(client, "/versions/v2")["state"] == "draining"
    again = client.post(API + "/versions/v1/promote", json={})  # already current: no change
    assert again.json()["promoted_at"] == T0 + 11


def test_versions_belong_to_their_environment(
        client: TestClient, as_env: Callable[[str], TestClient], deployed: str) -> None:
    staging = as_env("staging")
    assert staging.get(API + "/versions").json() == {"data": []}
    assert staging.get(API + "/versions/v1").status_code == 404
    assert staging.post(API + "/versions/v2/promote", json={}).status_code == 404
    assert _get(client, "/versions/v2")["state"] == "current"


@pytest.mark.parametrize("method,path", [
    ("GET", "/versions/v9"), ("POST", "/versions/v9/promote"), ("POST", "/versions/v9/retire"),
])
def test_an_unknown_version_is_a_404(client: TestClient, deployed: str, method: str,
                                     path: str) -> None:
    answer = client.request(method, API + path, json={} if method == "POST" else None)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert "no version 'v9' in environment 'dev'" in answer.json()["error"]["message"]


@pytest.mark.parametrize("name", ["-v1", "v1!", "x" * 101, "v%201"])
@pytest.mark.parametrize("suffix", ["", "/promote", "/retire"])
def test_a_bad_version_name_is_a_400(client: TestClient, deployed: str, name: str,
                                     suffix: str) -> None:
    method = "POST" if suffix else "GET"
    answer = client.request(method, f"{API}/versions/{name}{suffix}",
                            json={} if suffix else None)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_request"
    assert "is not a version name" in answer.json()["error"]["message"]


def test_answers_match_their_declared_schemas(client: TestClient, engine: Engine,
                                              deployed: str) -> None:
    spec = _Conformance(client.get("/api/openapi.json").json())

    def call(method: str, template: str, path: str) -> None:
        answer = client.request(method, API + path, json={} if method == "POST" else None)
        assert answer.status_code == 200, answer.text
        spec.check(method, path, template, answer.json())

    call("GET", "/versions", "/versions")
    call("GET", "/versions/{version}", "/versions/v1")
    engine.cancel("dev", deployed)
    call("POST", "/versions/{version}/retire", "/versions/v1/retire")
    call("POST", "/versions/{version}/promote", "/versions/v1/promote")
