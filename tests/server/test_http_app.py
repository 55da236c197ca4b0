"""The app around the API: health, the OpenAPI document, router misses, unexpected errors."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from outlast.api.routes import all_routes
from outlast.engine import Engine
from outlast.server.app import create_app
from outlast.server.openapi import operation_id

API = "/api/v1"


def test_healthz(anonymous: TestClient) -> None:
    r = anonymous.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


def test_healthz_is_503_when_the_store_does_not_answer(
        anonymous: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    @contextmanager
    def broken(write: bool = True) -> Any:
        raise ConnectionError("database is restarting")
        yield  # pragma: no cover

    monkeypatch.setattr(engine.store, "transaction", broken)
    with caplog.at_level(logging.WARNING, "outlast.server"):
        r = anonymous.get("/healthz")
    assert (r.status_code, r.json()) == (503, {"status": "unavailable"})
    assert "database is restarting" in caplog.text


def test_a_database_away_for_a_moment_is_a_503_to_retry(
        client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    @contextmanager
    def locked(write: bool = True) -> Any:
        raise sqlite3.OperationalError("database is locked")
        yield  # pragma: no cover

    monkeypatch.setattr(engine.store, "transaction", locked)
    r = client.get(f"{API}/runs")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "platform_unavailable"


def test_openapi_lists_every_route(anonymous: TestClient) -> None:
    doc = anonymous.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for route in all_routes():
        op = doc["paths"][API + route.path][route.method.lower()]
        assert op["summary"] == route.summary
        assert op["operationId"] == operation_id(route)
    assert {"/healthz", "/api/openapi.json"} <= set(doc["paths"])
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_openapi_declares_path_parameters_and_bearer_security(anonymous: TestClient) -> None:
    doc = anonymous.get("/api/openapi.json").json()
    trigger = doc["paths"][f"{API}/tasks/{{task_id}}/trigger"]["post"]
    assert trigger["parameters"] == [{"name": "task_id", "in": "path", "required": True,
                                      "schema": {"type": "string"}}]
    assert "requestBody" in trigger
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


def test_unknown_api_path_is_a_json_404(client: TestClient) -> None:
    r = client.get(f"{API}/nothing/here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_wrong_method_is_a_json_405(client: TestClient) -> None:
    r = client.delete(f"{API}/runs")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_unexpected_errors_are_logged_not_leaked(
        client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def boom(*args: Any, **kwargs: Any) -> NoReturn:
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(engine, "retrieve", boom)
    with caplog.at_level(logging.ERROR, "outlast.server"):
        r = client.get(f"{API}/runs/run_x")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in r.text
    assert "hunter2" in caplog.text
    assert "Traceback" in caplog.text


def test_lifespan_runs_the_scheduler(engine: Engine) -> None:
    app = create_app(engine)
    with TestClient(app) as c:
        scheduler = app.state.scheduler
        assert scheduler is not None and scheduler.running
        assert c.get("/healthz").status_code == 200
    assert app.state.scheduler is None
    assert not scheduler.running


def test_no_scheduler_when_disabled(app: Starlette, client: TestClient) -> None:
    assert app.state.scheduler is None


def test_readyz_waits_for_what_the_server_needs(engine: Engine) -> None:
    reason: list[str | None] = ["the worker has not registered its tasks yet"]
    app = create_app(engine, scheduler=False, readiness=lambda: reason[0])
    with TestClient(app) as c:
        r = c.get("/readyz")
        assert (r.status_code, r.json()) == (503, {
            "status": "not_ready", "reason": "the worker has not registered its tasks yet"})
        reason[0] = None
        r = c.get("/readyz")
        assert (r.status_code, r.json()) == (200, {"status": "ready"})
        assert "/readyz" in c.get("/api/openapi.json").json()["paths"]


def test_readyz_without_a_readiness_check_asks_the_store(anonymous: TestClient) -> None:
    assert anonymous.get("/readyz").json() == {"status": "ready"}
