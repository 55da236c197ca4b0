"""API keys: every ``/api/v1`` call needs one, and a key sees only its environment."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine, KeyGrant
from outlast.errors import AuthError
from outlast.server.auth import Authenticator, bearer_key

API = "/api/v1"


def test_no_key_is_401(anonymous: TestClient) -> None:
    r = anonymous.get(f"{API}/runs")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic abc", "{key}",
                                    "Bearer {key}x", "Bearer  {key}-"])
def test_wrong_or_malformed_key_is_401(anonymous: TestClient, dev_key: str, header: str) -> None:
    header = header.format(key=dev_key)
    r = anonymous.post(f"{API}/tasks/hello/trigger", json={}, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_unauthenticated_request_writes_nothing(anonymous: TestClient, engine: Engine) -> None:
    anonymous.post(f"{API}/tasks/hello/trigger", json={"payload": 1})
    assert engine.list_runs("dev")[0] == []


def test_public_endpoints_need_no_key(anonymous: TestClient) -> None:
    assert anonymous.get("/healthz").status_code == 200
    assert anonymous.get("/api/openapi.json").status_code == 200


def test_a_stored_key_works_for_its_environment(as_env: Callable[[str], TestClient]) -> None:
    r = as_env("dev").post(f"{API}/tasks/hello/trigger", json={})
    assert r.status_code == 201


def test_staging_key_sees_only_staging_runs(as_env: Callable[[str], TestClient], engine: Engine,
                                            client: TestClient) -> None:
    engine.register_tasks("staging", [TaskDefinition(id="hello", queue="hello")])
    staging = as_env("staging")
    dev_run = client.post(f"{API}/tasks/hello/trigger", json={"payload": "dev"}).json()["id"]
    staging_run = staging.post(f"{API}/tasks/hello/trigger", json={"payload": "stg"}).json()["id"]
    assert [r["id"] for r in staging.get(f"{API}/runs").json()["data"]] == [staging_run]
    assert [r["id"] for r in client.get(f"{API}/runs").json()["data"]] == [dev_run]
    assert staging.get(f"{API}/runs/{dev_run}").status_code == 404
    assert staging.post(f"{API}/runs/{dev_run}/cancel").status_code == 404
    assert staging.get(f"{API}/runs/{staging_run}").json()["environment"] == "staging"


def test_task_registered_only_in_dev_is_unknown_in_staging(
        as_env: Callable[[str], TestClient]) -> None:
    r = as_env("staging").post(f"{API}/tasks/hello/trigger", json={})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "task_not_found"


def test_dev_key_is_only_accepted_when_configured(engine: Engine, dev_key: str) -> None:
    with pytest.raises(AuthError):
        Authenticator(engine).environment(f"Bearer {dev_key}")
    assert Authenticator(engine, dev_key).environment(f"Bearer {dev_key}") == "dev"


class Counting:
    """Counts calls to ``Engine.authenticate`` while passing them through."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls = 0

    def find_key(self, key: str) -> KeyGrant | None:
        self.calls += 1
        return self.engine.find_key(key)


def test_known_keys_are_cached_for_a_few_seconds(engine: Engine) -> None:
    now = [100.0]
    counting = Counting(engine)
    authenticator = Authenticator(counting, ttl=5.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    key = engine.create_api_key("prod")
    for _ in range(3):
        assert authenticator.environment(f"Bearer {key}") == "prod"
    assert counting.calls == 1
    now[0] += 6
    assert authenticator.environment(f"Bearer {key}") == "prod"
    assert counting.calls == 2


def test_unknown_keys_are_not_cached(engine: Engine) -> None:
    counting = Counting(engine)
    authenticator = Authenticator(counting)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(AuthError):
            authenticator.environment("Bearer nope")
    assert counting.calls == 2


@pytest.mark.parametrize(("header", "key"), [("Bearer abc", "abc"), ("bearer  abc ", "abc")])
def test_bearer_key(header: str, key: str) -> None:
    assert bearer_key(header) == key
