"""The dashboard names its project, so that two servers open in two tabs can be told apart."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from outlast.engine import Engine
from outlast.server.app import create_app
from tests.dashboard.conftest import DEV_KEY
from tests.dashboard.test_pages import csrf_of


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "no <title>"
    return match.group(1)


def text_of(pattern: str, html: str) -> str:
    """The text inside the first match of ``pattern``, tags dropped and spaces squeezed."""
    match = re.search(pattern, html, re.S)
    assert match, f"nothing matches {pattern}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def brand(html: str) -> str:
    return text_of(r'<a class="brand"[^>]*>(.*?)</a>', html)


def sidebar_foot(html: str) -> str:
    return text_of(r'<div class="env">(.*?)</div>', html)


Open = Callable[..., TestClient]


@pytest.fixture
def open_dashboard(engine: Engine, dash_tasks: list[str]) -> Iterator[Open]:
    """``open_dashboard(project=...)``: a client of ``create_app`` with those keywords."""
    with ExitStack() as stack:
        def open_(**kwargs: Any) -> TestClient:
            app = create_app(engine, scheduler=False, **kwargs)
            return stack.enter_context(TestClient(app, follow_redirects=False))

        yield open_


def test_pages_name_the_project_in_header_title_and_beside_the_environment(
        open_dashboard: Open) -> None:
    client = open_dashboard(dev_api_key=DEV_KEY, project="billing")
    runs = client.get("/").text
    assert title(runs) == "Runs · billing · Outlast"
    assert brand(runs) == "Outlast · billing"
    assert sidebar_foot(runs) == "Project billing Environment dev"
    assert title(client.get("/tasks").text) == "Tasks · billing · Outlast"
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and title(missing.text) == "Not found · billing · Outlast"


def test_without_a_project_nothing_is_named(open_dashboard: Open) -> None:
    client = open_dashboard(dev_api_key=DEV_KEY)
    runs = client.get("/").text
    assert title(runs) == "Runs · Outlast"
    assert brand(runs) == "Outlast"
    assert sidebar_foot(runs) == "Environment dev"
    assert 'class="project"' not in runs


def test_the_login_form_says_which_project_the_key_is_for(
        open_dashboard: Open, engine: Engine) -> None:
    client = open_dashboard(project="billing")
    login = client.get("/login").text
    assert title(login) == "Log in · billing · Outlast"
    assert "<h1>Log in to billing</h1>" in login
    key = engine.create_api_key("prod")
    client.post("/login", data={"csrf": csrf_of(client, "/login"), "key": key, "next": "/"})
    assert sidebar_foot(client.get("/").text).startswith("Project billing Environment prod")


def test_the_login_form_without_a_project(open_dashboard: Open) -> None:
    client = open_dashboard()
    login = client.get("/login").text
    assert title(login) == "Log in · Outlast"
    assert "<h1>Log in to the dashboard</h1>" in login


def test_the_project_name_is_escaped(open_dashboard: Open) -> None:
    client = open_dashboard(dev_api_key=DEV_KEY, project="R&D <ops>")
    runs = client.get("/").text
    assert "R&amp;D &lt;ops&gt;" in title(runs) and "<ops>" not in runs
