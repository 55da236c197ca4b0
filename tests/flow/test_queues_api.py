"""Queues over HTTP, through Client/AsyncClient, the module functions and the CLI; errors."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from outlast import AsyncClient, Client, configure, queues
from outlast.engine import Engine
from outlast.errors import NotFoundError, ValidationError
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport
from outlast.server.app import create_app
from tests.conftest import definition

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

KEY = "ol_dev_test-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def _register(engine: Engine, register: Any) -> None:
    register(engine, definition("fetch", queue="api-calls", concurrency_limit=2,
                                rate_limit="100/m"))


@pytest.fixture
def http(engine: Engine, register: Any) -> Iterator[TestClient]:
    _register(engine, register)
    app = create_app(engine, dev_api_key=KEY, scheduler=False)
    with TestClient(app, headers=HEADERS) as c:
        yield c


def test_http_list_retrieve_pause_resume_patch(http: TestClient, engine: Engine,
                                               trigger: Any) -> None:
    trigger(engine, "fetch", 1)
    listed = http.get("/api/v1/queues").json()["data"]
    assert [(q["name"], q["queued"], q["running"], q["concurrency_limit"], q["rate_limit"],
             q["paused"]) for q in listed] == [("api-calls", 1, 0, 2, "100/m", False)]
    assert http.post("/api/v1/queues/api-calls/pause").json()["paused"] is True
    assert http.get("/api/v1/queues/api-calls").json()["paused"] is True
    assert http.post("/api/v1/queues/api-calls/resume").json()["paused"] is False
    changed = http.patch("/api/v1/queues/api-calls",
                         json={"concurrency_limit": 5, "rate_limit": "10/s"}).json()
    assert changed["concurrency_limit"] == 5 and changed["rate_limit"] == "10/s"
    assert changed["code"]["concurrency_limit"] == 2
    assert changed["overrides"] == {"concurrency_limit": 5, "rate_limit": "10/s"}
    back = http.patch("/api/v1/queues/api-calls", json={"reset": ["rate_limit"]}).json()
    assert back["rate_limit"] == "100/m"
    env = http.put("/api/v1/environment/limit", json={"concurrency_limit": 7}).json()
    assert env["concurrency_limit"] == 7 and env["source"] == "api"


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), [
    ("GET", "/queues/nope", None, 404, "no queue 'nope'"),
    ("POST", "/queues/nope/pause", None, 404, "no queue 'nope'"),
    ("PATCH", "/queues/nope", {"concurrency_limit": 1}, 404, "no queue 'nope'"),
    ("PATCH", "/queues/api-calls", {"concurrency_limit": -1}, 400, "positive integer"),
    ("PATCH", "/queues/api-calls", {"concurrency_limit": 0}, 400, "positive integer"),
    ("PATCH", "/queues/api-calls", {"total_limit": "3"}, 400, "positive integer"),
    ("PATCH", "/queues/api-calls", {"rate_limit": "fast"}, 400, "COUNT/WINDOW"),
    ("PATCH", "/queues/api-calls", {"rate_limit": "10/fortnight"}, 400, "unknown window"),
    ("PATCH", "/queues/api-calls", {"limit": 3}, 400, "unknown queue setting"),
    ("PATCH", "/queues/api-calls", {}, 400, "nothing to change"),
    ("PATCH", "/queues/api-calls", {"reset": "all"}, 400, "reset must be a list"),
    ("PATCH", "/queues/api-calls", {"reset": ["speed"]}, 400, "unknown limit"),
    ("PATCH", "/queues/api-calls", [1], 400, "JSON object"),
    ("PUT", "/environment/limit", {"concurrency_limit": -3}, 400, "positive integer"),
    ("PUT", "/environment/limit", {"limit": 3}, 400, "concurrency_limit"),
])
def test_http_errors(http: TestClient, method: str, path: str, body: Any, status: int,
                     message: str) -> None:
    answer = http.request(method, "/api/v1" + path, json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]


def test_client_and_module_functions(engine: Engine, register: Any) -> None:
    _register(engine, register)
    client = Client(transport=LocalTransport(engine, "dev"))
    assert [q["name"] for q in client.queues.list()] == ["api-calls"]
    assert client.queues.update("api-calls", total_limit=4)["total_limit"] == 4
    with pytest.raises(ValidationError, match="rate_limit"):
        client.queues.update("api-calls", rate_limit="often")
    with pytest.raises(NotFoundError):
        client.queues.pause("missing")
    configure(client)
    try:
        assert queues.pause("api-calls")["paused"] is True
        assert queues.resume("api-calls")["paused"] is False
        assert queues.update("api-calls", reset=["total_limit"])["total_limit"] is None
        assert queues.list()[0]["name"] == "api-calls"
        assert queues.set_environment_limit(3)["concurrency_limit"] == 3
    finally:
        configure(None)

    async def go() -> None:
        aclient = AsyncClient(transport=AsyncLocalTransport(LocalTransport(engine, "dev")))
        assert (await aclient.queues.pause("api-calls"))["paused"] is True
        assert (await aclient.queues.retrieve("api-calls"))["paused"] is True
        assert (await aclient.queues.update("api-calls", concurrency_limit=9))[
            "concurrency_limit"] == 9

    asyncio.run(go())


@pytest.fixture
def run(engine: Engine, register: Any, cli_on_store: Any) -> Any:
    _register(engine, register)
    return lambda *args: cli_on_store("queues", *args)


def test_cli_list_pause_resume_set_limit(run: Any) -> None:
    listed = run("list")
    assert listed.exit_code == 0, listed.output
    assert "api-calls" in listed.stdout and "100/m" in listed.stdout
    assert "paused" in run("pause", "api-calls").stderr
    assert "active" in run("resume", "api-calls").stderr
    changed = run("set-limit", "api-calls", "7", "--rate", "5/s", "--total", "none")
    assert changed.exit_code == 0, changed.output
    assert "7*" in changed.stderr and "5/s*" in changed.stderr
    reset = run("set-limit", "api-calls", "--reset")
    assert "7*" not in reset.stderr and " 2 " in reset.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (("pause", "nope"), 1, "no queue 'nope'"),
    (("set-limit", "api-calls", "--", "-2"), 2, "positive integer"),
    (("set-limit", "api-calls", "lots"), 2, "expected a number"),
    (("set-limit", "api-calls", "--rate", "fast"), 2, "COUNT/WINDOW"),
    (("set-limit", "api-calls"), 2, "give a LIMIT"),
])
def test_cli_errors(run: Any, args: tuple[str, ...], code: int, message: str) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert message in result.output
