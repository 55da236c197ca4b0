"""The dashboard mounted under a prefix (``app.mount("/outlast", ...)``) keeps every URL
under it: links, forms, scripts, live parts, redirects, the login and its cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from outlast.engine import Engine
from outlast.server.app import create_app
from tests.conftest import trigger_run
from tests.dashboard.conftest import DEV_KEY

PREFIX = "/outlast"
URL = re.compile(r'\b(href|action|src|hx-get|hx-post|data-live|data-href)="([^"]*)"')
PAGES = ["/", "/errors", "/tasks", "/tasks/hello-world", "/queues", "/queues/hello-world",
         "/schedules", "/tokens", "/workers", "/versions", "/overview", "/no-such-page"]


def mounted(engine: Engine, **options: Any) -> Starlette:
    return Starlette(routes=[Mount(PREFIX, app=create_app(engine, scheduler=False,
                                                          **options))])


@pytest.fixture
def prefixed(engine: Engine, dash_tasks: list[str]) -> Iterator[TestClient]:
    with TestClient(mounted(engine, dev_api_key=DEV_KEY), follow_redirects=False) as c:
        yield c


def urls(html: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2).replace("&amp;", "&")) for m in URL.finditer(html)]


def csrf(html: str) -> str:
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_no_url_on_any_page_escapes_the_prefix(prefixed: TestClient, engine: Engine) -> None:
    run = trigger_run(engine, "hello-world", {"n": 1}, tags=["t1"]).row["id"]
    seen: set[str] = set()
    followed: set[str] = set()  # what a browser GETs: links, scripts, live parts
    for path in [*PAGES, f"/runs/{run}"]:
        response = prefixed.get(PREFIX + path)
        assert response.status_code == (404 if path == "/no-such-page" else 200), path
        assert f'<meta name="outlast-root" content="{PREFIX}">' in response.text
        for attribute, url in urls(response.text):
            if url.startswith(("#", "http://", "https://")) or url == "":
                continue
            assert url.startswith(PREFIX + "/"), f"{attribute}={url!r} on {path}"
            seen.add(url)
            if attribute in ("href", "src", "hx-get", "data-href"):
                followed.add(url)
    assert f"{PREFIX}/runs/{run}" in seen and f"{PREFIX}/static/dashboard.js" in seen
    assert f"{PREFIX}/runs/{run}/live" in " ".join(seen)  # the live part's event stream
    for url in sorted(followed):  # and each leads somewhere
        assert prefixed.get(url).status_code == 200, url


def test_actions_redirect_under_the_prefix(prefixed: TestClient, engine: Engine) -> None:
    page = prefixed.get(f"{PREFIX}/tasks/hello-world").text
    done = prefixed.post(f"{PREFIX}/tasks/hello-world/test",
                         data={"csrf": csrf(page), "payload": '{"name": "x"}'})
    assert done.status_code == 303
    assert done.headers["location"].startswith(f"{PREFIX}/runs/")
    run_page = prefixed.get(done.headers["location"])
    assert "Triggered hello-world." in run_page.text
    refused = prefixed.post(f"{PREFIX}/tasks/hello-world/test",
                            data={"csrf": csrf(page), "payload": "{not json"})
    assert refused.headers["location"].startswith(f"{PREFIX}/tasks/hello-world?")


def test_login_redirect_cookie_and_next_stay_under_the_prefix(
        engine: Engine, dash_tasks: list[str]) -> None:
    with TestClient(mounted(engine), follow_redirects=False) as http:
        sent = http.get(f"{PREFIX}/tasks?x=1")
        assert sent.status_code == 303
        assert sent.headers["location"] == f"{PREFIX}/login?next=%2Ftasks%3Fx%3D1"
        form = http.get(sent.headers["location"])
        assert f'action="{PREFIX}/login"' in form.text
        assert f'href="{PREFIX}/static/dashboard.css"' in form.text
        done = http.post(f"{PREFIX}/login", data={"csrf": csrf(form.text), "next": "/tasks?x=1",
                                                  "key": engine.create_api_key("prod")})
        assert done.status_code == 303
        assert done.headers["location"] == f"{PREFIX}/tasks?x=1"
        assert f"Path={PREFIX}" in done.headers["set-cookie"]
        assert http.get(f"{PREFIX}/tasks").status_code == 200
        out = http.post(f"{PREFIX}/logout", data={"csrf": csrf(http.get(f"{PREFIX}/").text)})
        assert out.headers["location"] == f"{PREFIX}/login"


def test_an_api_miss_under_the_prefix_stays_json(prefixed: TestClient) -> None:
    miss = prefixed.get(f"{PREFIX}/api/v1/no-such-route")
    assert miss.status_code == 404
    assert miss.headers["content-type"].startswith("application/json")
