"""API keys scoped to ``read`` or ``trigger`` besides ``full``: every scope against every
class of route, on both stores (``core/key_scopes.py`` says which route needs what)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

import outlast
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.errors import InsufficientScopeError, ValidationError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

API = "/api/v1"
Call = Callable[[TestClient, str], Any]


def new_run(engine: Engine, *, final: bool = False) -> str:
    run_id = str(engine.trigger("dev", NewRun("hello", "{}", TriggerOptions())).row["id"])
    if final:
        engine.cancel("dev", run_id)
    return run_id


def status(response: Any) -> int:
    return int(response.status_code)


#: (what, call, the scopes it accepts)
ROUTE_CLASSES: list[tuple[str, Call, set[str]]] = [
    ("list runs", lambda c, r: c.get(f"{API}/runs"), {"full", "read"}),
    ("retrieve a run", lambda c, r: c.get(f"{API}/runs/{r}"), {"full", "read"}),
    ("list tasks", lambda c, r: c.get(f"{API}/tasks"), {"full", "read"}),
    ("a run's trace", lambda c, r: c.get(f"{API}/runs/{r}/trace"), {"full", "read"}),
    ("trigger", lambda c, r: c.post(f"{API}/tasks/hello/trigger", json={"payload": 1}),
     {"full", "trigger"}),
    ("batch trigger", lambda c, r: c.post(f"{API}/batch", json={"items": [
        {"task": "hello", "payload": 1}]}), {"full", "trigger"}),
    ("cancel", lambda c, r: c.post(f"{API}/runs/{r}/cancel"), {"full"}),
    ("update metadata", lambda c, r: c.put(f"{API}/runs/{r}/metadata",
                                           json={"set": {"a": 1}}), {"full"}),
    ("pause a queue", lambda c, r: c.post(f"{API}/queues/hello/pause"), {"full"}),
    ("list waitpoint tokens", lambda c, r: c.get(f"{API}/waitpoints/tokens"), {"full"}),
    ("a run's journal", lambda c, r: c.get(f"{API}/runs/{r}/journal"), {"full"}),
    ("mint a public token", lambda c, r: c.post(f"{API}/auth/public-tokens",
                                                json={"scope": {"run_id": r}}),
     {"full", "read"}),
    ("metrics", lambda c, r: c.get("/metrics"), {"full", "read"}),
]


@pytest.fixture
def keyed(app: Starlette, engine: Engine) -> Iterator[Callable[[str], TestClient]]:
    """``keyed("read")``: a client holding a new dev key of that scope."""
    opened: list[TestClient] = []

    def make(scope: str) -> TestClient:
        key = engine.create_api_key("dev", scope=scope)
        opened.append(TestClient(app, headers={"Authorization": f"Bearer {key}"}))
        return opened[-1]

    yield make
    for c in opened:
        c.close()


@pytest.mark.parametrize("scope", ["full", "read", "trigger"])
def test_each_scope_reaches_exactly_its_routes(
        keyed: Callable[[str], TestClient], engine: Engine, scope: str) -> None:
    client = keyed(scope)
    for what, call, accepted in ROUTE_CLASSES:
        response = call(client, new_run(engine))
        if scope in accepted:
            assert status(response) < 400, (what, response.text)
        else:
            assert status(response) == 403, (what, response.text)
            error = response.json()["error"]
            assert error["code"] == "insufficient_scope", what
            assert error["details"]["scope"] == scope
            assert error["details"]["needed"] in accepted, what
            assert f"needs a {error['details']['needed']} API key" in error["message"]


def test_the_refusal_names_the_route_and_the_scope_it_needs(
        keyed: Callable[[str], TestClient], engine: Engine) -> None:
    response = keyed("read").post(f"{API}/tasks/hello/trigger", json={"payload": 1})
    assert response.json()["error"]["message"] == (
        "POST /api/v1/tasks/{task_id}/trigger needs a trigger API key; this key's scope "
        "is read")
    assert engine.list_runs("dev")[0] == []  # nothing was triggered


@pytest.mark.parametrize(("scope", "allowed"), [("full", True), ("read", True),
                                                ("trigger", False)])
def test_realtime_subscriptions_need_a_read_key(
        keyed: Callable[[str], TestClient], engine: Engine, scope: str, allowed: bool) -> None:
    run_id = new_run(engine, final=True)  # the stream ends with the final snapshot
    response = keyed(scope).get(f"{API}/runs/{run_id}/subscribe")
    if allowed:
        assert response.status_code == 200
        assert "event: run" in response.text and '"CANCELED"' in response.text
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "insufficient_scope"


def test_a_public_token_minted_with_a_read_key_reads_its_run(
        keyed: Callable[[str], TestClient], anonymous: TestClient, engine: Engine) -> None:
    run_id = new_run(engine, final=True)
    token = keyed("read").post(f"{API}/auth/public-tokens",
                               json={"scope": {"run_id": run_id}}).json()["token"]
    response = anonymous.get(f"{API}/runs/{run_id}/subscribe?access_token={token}")
    assert response.status_code == 200 and '"CANCELED"' in response.text


def test_the_python_client_raises_insufficient_scope(live_server: Any, engine: Engine) -> None:
    key = engine.create_api_key("dev", scope="read")
    with outlast.Client(url=live_server.url, api_key=key) as client:
        with pytest.raises(InsufficientScopeError) as raised:
            client.tasks.trigger("hello", {"n": 1})
        assert raised.value.details["needed"] == "trigger"
        assert client.runs.list() == []  # reading is allowed


def test_an_unknown_scope_is_refused(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="use one of full, read, trigger"):
        engine.create_api_key("dev", scope="admin")


def test_a_key_is_full_unless_told_otherwise(engine: Engine) -> None:
    key = engine.create_api_key("dev")
    grant = engine.find_key(key)
    assert grant is not None and (grant.environment, grant.scope) == ("dev", "full")
