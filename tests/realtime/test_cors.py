"""Cross-origin reads (``cors_origins``): only the configured sites, only the realtime and
run-read routes, never a write or the dashboard; and the browser module they import. On
both stores."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from outlast.config import load_config
from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.errors import ConfigError
from outlast.server.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

APP_SITE = "https://app.example.com"
OTHER_SITE = "https://evil.example.net"
API = "/api/v1"
ACAO = "access-control-allow-origin"


@pytest.fixture
def run_id(engine: Engine) -> str:
    engine.register_tasks("dev", [TaskDefinition(id="hello", queue="hello")])
    run = str(engine.trigger("dev", NewRun("hello", "{}", TriggerOptions())).row["id"])
    engine.cancel("dev", run)  # final: a subscription ends after one snapshot
    return run


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    """A reader of an app that lets ``APP_SITE`` read, holding a read key."""
    app = create_app(engine, scheduler=False, cors_origins=(APP_SITE,))
    key = engine.create_api_key("dev", scope="read")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as c:
        yield c


def test_an_allowed_site_reads_runs_and_follows_them(client: TestClient, run_id: str) -> None:
    for path in (f"/runs/{run_id}", "/runs", f"/runs/{run_id}/trace",
                 f"/runs/{run_id}/subscribe"):
        response = client.get(API + path, headers={"Origin": APP_SITE})
        assert response.status_code == 200, path
        assert response.headers[ACAO] == APP_SITE, path
        assert "Origin" in response.headers["vary"]
        assert "access-control-allow-credentials" not in response.headers


def test_an_error_answer_is_readable_too(client: TestClient) -> None:
    """A page must be able to tell an expired token from a dead server."""
    response = client.get(f"{API}/runs/run_nope", headers={"Origin": APP_SITE})
    assert response.status_code == 404 and response.headers[ACAO] == APP_SITE


def test_another_site_gets_no_cors_header(client: TestClient, run_id: str) -> None:
    response = client.get(f"{API}/runs/{run_id}", headers={"Origin": OTHER_SITE})
    assert response.status_code == 200  # the server answers; the browser will not show it
    assert ACAO not in response.headers


def test_the_preflight_allows_get_with_authorization(client: TestClient, run_id: str) -> None:
    response = client.options(f"{API}/runs/{run_id}/subscribe", headers={
        "Origin": APP_SITE, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization,last-event-id"})
    assert response.status_code == 204
    assert response.headers[ACAO] == APP_SITE
    assert response.headers["access-control-allow-methods"] == "GET"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "last-event-id" in allowed


@pytest.mark.parametrize(("origin", "method"), [(OTHER_SITE, "GET"), (APP_SITE, "DELETE")])
def test_the_preflight_refuses_other_sites_and_methods(client: TestClient, run_id: str,
                                                       origin: str, method: str) -> None:
    response = client.options(f"{API}/runs/{run_id}", headers={
        "Origin": origin, "Access-Control-Request-Method": method})
    assert response.status_code == 403 and ACAO not in response.headers


def test_writes_triggers_other_reads_and_the_dashboard_get_none(
        client: TestClient, run_id: str) -> None:
    site = {"Origin": APP_SITE}
    answers = [
        client.post(f"{API}/tasks/hello/trigger", json={"payload": 1}, headers=site),
        client.post(f"{API}/runs/{run_id}/cancel", headers=site),
        client.options(f"{API}/tasks/hello/trigger", headers={
            **site, "Access-Control-Request-Method": "POST"}),
        client.get(f"{API}/tasks", headers=site),
        client.get(f"{API}/runs/{run_id}/logs", headers=site),
        client.get("/", headers=site),
        client.get("/login", headers=site),
    ]
    for response in answers:
        assert ACAO not in response.headers, response.request.url


def test_without_cors_origins_no_site_may_read(engine: Engine, run_id: str) -> None:
    with TestClient(create_app(engine, scheduler=False)) as c:
        key = engine.create_api_key("dev")
        response = c.get(f"{API}/runs/{run_id}", headers={
            "Origin": APP_SITE, "Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and ACAO not in response.headers


def test_any_site_with_a_star(engine: Engine, run_id: str) -> None:
    with TestClient(create_app(engine, scheduler=False, cors_origins=("*",))) as c:
        key = engine.create_api_key("dev")
        response = c.get(f"{API}/runs/{run_id}", headers={
            "Origin": OTHER_SITE, "Authorization": f"Bearer {key}"})
    assert response.headers[ACAO] == OTHER_SITE


def test_the_browser_module_is_served_to_any_site_and_cached(client: TestClient) -> None:
    response = client.get("/static/realtime.js", headers={"Origin": OTHER_SITE})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers[ACAO] == "*"
    assert "export function subscribeToRun(" in response.text
    assert "export function subscribeToTag(" in response.text
    again = client.get("/static/realtime.js",
                       headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # the dashboard's own files are still its own
    assert client.get("/static/dashboard.css").status_code == 200


# -- configuration ------------------------------------------------------------------------


def project(tmp_path: Path, line: str = "") -> Path:
    (tmp_path / "outlast.toml").write_text(f'project = "p"\n{line}\n')
    return tmp_path


def test_cors_origins_from_the_file_and_the_environment(tmp_path: Path) -> None:
    assert load_config(project(tmp_path), environ={}).cors_origins == ()
    line = 'cors_origins = ["https://App.example.com/", "http://localhost:5173"]'
    config = load_config(project(tmp_path, line), environ={})
    assert config.cors_origins == ("https://app.example.com", "http://localhost:5173")
    env = {"OUTLAST_CORS_ORIGINS": "https://a.example.com, https://b.example.com:8443"}
    assert load_config(project(tmp_path, line), environ=env).cors_origins == (
        "https://a.example.com", "https://b.example.com:8443")
    assert load_config(project(tmp_path, line),
                       environ={"OUTLAST_CORS_ORIGINS": ""}).cors_origins == ()


@pytest.mark.parametrize("bad", ['"https://app.example.com"', '["app.example.com"]',
                                 '["https://app.example.com/path"]', '["ftp://x.example"]',
                                 "[1]"])
def test_a_bad_origin_is_a_config_error(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="cors_origins"):
        load_config(project(tmp_path, f"cors_origins = {bad}"), environ={})


def test_a_bad_origin_in_the_environment_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OUTLAST_CORS_ORIGINS"):
        load_config(project(tmp_path), environ={"OUTLAST_CORS_ORIGINS": "app.example.com"})
