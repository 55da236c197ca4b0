"""Dashboard sessions: logging out ends every copy of the cookie, one secret signs them.

A session is a row of the database named by its signed cookie; the cookie is signed with
the server secret (``OUTLAST_SECRET``, else the database's own), so it outlives a restart
and works on every server of the project, until logout deletes the row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from outlast.config import load_config
from outlast.engine import Engine
from outlast.server.app import create_app
from outlast.server.dashboard.session import MAX_AGE


def login(http: Any, key: str) -> None:
    page = http.get("/login").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    done = http.post("/login", data={"csrf": csrf, "key": key, "next": "/"})
    assert done.status_code == 303, done.text


def logout(http: Any) -> None:
    csrf = http.get("/").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert http.post("/logout", data={"csrf": csrf}).status_code == 303


def logged_in(http: Any) -> bool:
    return bool(http.get("/").status_code == 200)


def test_logout_ends_a_copied_cookie_too(anonymous: Any, server_app: Any,
                                        engine: Engine) -> None:
    login(anonymous, engine.create_api_key("prod"))
    stolen = dict(anonymous.cookies)
    with TestClient(server_app, cookies=stolen, follow_redirects=False) as thief:
        assert logged_in(thief)
        logout(anonymous)
        assert not logged_in(anonymous)
        assert not logged_in(thief)  # the copy names a session that no longer exists


def test_a_session_ends_after_its_lifetime(anonymous: Any, engine: Engine,
                                          clock: Any) -> None:
    login(anonymous, engine.create_api_key("prod"))
    assert logged_in(anonymous)
    clock.advance(MAX_AGE + 1)
    assert not logged_in(anonymous)


def test_a_session_outlives_a_restart_and_works_on_every_server(
        anonymous: Any, engine: Engine) -> None:
    """No secret configured: the database's own signs, so a second server agrees."""
    login(anonymous, engine.create_api_key("prod"))
    cookies = dict(anonymous.cookies)
    restarted = create_app(Engine(engine.store, clock=engine.clock), scheduler=False)
    with TestClient(restarted, cookies=cookies, follow_redirects=False) as again:
        assert logged_in(again)


def test_a_session_of_another_secret_is_none(anonymous: Any, engine: Engine) -> None:
    login(anonymous, engine.create_api_key("prod"))
    cookies = dict(anonymous.cookies)
    other = create_app(engine, scheduler=False, secret="a-configured-secret")
    with TestClient(other, cookies=cookies, follow_redirects=False) as http:
        assert not logged_in(http)


def test_one_secret_read_once_the_old_name_still_works_with_a_warning(
        tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={"OUTLAST_SECRET": "s1"}).secret == "s1"
    assert load_config(tmp_path, environ={}).secret is None
    with pytest.warns(FutureWarning, match="OUTLAST_SECRET_KEY is deprecated"):
        assert load_config(tmp_path, environ={"OUTLAST_SECRET_KEY": "old"}).secret == "old"
    with pytest.warns(FutureWarning, match="ignored"):
        both = load_config(tmp_path, environ={"OUTLAST_SECRET": "s1",
                                              "OUTLAST_SECRET_KEY": "old"})
    assert both.secret == "s1"
    assert "s1" not in repr(both)
