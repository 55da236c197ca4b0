"""Secrets stay out of logs: callback secrets, public tokens, database passwords.

The access log (``outlast server --access-log``) is uvicorn's, through the filter
``uvicorn_server`` puts on it; the error log is the server's own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.testclient import TestClient
from tests.eventually import eventually

from outlast.cli.output import redact_url
from outlast.cli.serving import redact_secrets, uvicorn_server
from outlast.engine import Engine
from outlast.server.app import create_app

API = "/api/v1"


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage() + (str(record.exc_info) if record.exc_info
                                                 else ""))


@contextmanager
def captured(name: str) -> Iterator[list[str]]:
    handler = Lines()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


@contextmanager
def served_with_access_log(app: Any) -> Iterator[tuple[str, list[str]]]:
    """``app`` on a real uvicorn, configured as ``outlast server --access-log`` does;
    yields its URL and the access log's lines."""
    server = uvicorn_server(app, "127.0.0.1", 0, access_log=True, log_level="info")
    # after uvicorn's logging set-up, which drops the handlers it finds
    with captured("uvicorn.access") as lines, _running(server) as url:
        yield url, lines


@contextmanager
def _running(server: Any) -> Iterator[str]:
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "uvicorn did not start"
        return bool(server.started)

    eventually(started, 10, "uvicorn to start")
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def new_token(engine: Engine) -> tuple[str, str]:
    """(callback path, its secret) of a fresh token."""
    record = engine.durable.new_token("dev", None, [], None)
    path = urlsplit(record["url"]).path
    return path, path.rsplit("/", 1)[1]


def test_the_access_log_masks_callback_secrets_and_public_tokens(engine: Engine) -> None:
    path, secret = new_token(engine)
    public = "olpt_eyJwcmoiOiJ4In0.c2lnbmF0dXJl"
    with served_with_access_log(create_app(engine, scheduler=False)) as (url, lines):
        assert httpx.post(url + path, json={"ok": True}).status_code == 200
        refused = httpx.get(f"{url}{API}/runs/subscribe",
                            params={"tag": "t", "access_token": public})
        assert refused.status_code == 401
    text = "\n".join(lines)
    assert "/callback/***" in text and "access_token=***" in text, text
    assert secret not in text and public not in text


def test_a_crash_on_the_callback_route_logs_its_template_not_its_secret(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    path, secret = new_token(engine)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(engine.durable, "complete_token", broken)
    with captured("outlast.server") as lines, \
            TestClient(create_app(engine, scheduler=False)) as http:
        assert http.post(path, json={}).status_code == 500
    text = "\n".join(lines)
    assert "/callback/{secret}" in text, text
    assert secret not in text


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://app:hunter2@db/outlast", "postgresql://app:***@db/outlast"),
    ("postgresql://db/outlast?user=app&password=hunter2",
     "postgresql://db/outlast?user=app&password=***"),
    ("postgresql://db/outlast?PASSWORD=hunter2&schema=x",
     "postgresql://db/outlast?PASSWORD=***&schema=x"),
    ("postgresql://app:p%40ss@db/o?sslmode=require&Password=hunter2",
     "postgresql://app:***@db/o?sslmode=require&Password=***"),
    ("postgresql://app@db/outlast", "postgresql://app@db/outlast"),
    ("sqlite:////tmp/dev.db", "sqlite:////tmp/dev.db"),
])
def test_redact_url_hides_every_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert "hunter2" not in redact_url(url)


def test_redact_secrets_in_request_lines() -> None:
    line = 'POST /api/v1/waitpoints/tokens/token_1/callback/s3cr3t-x_y?x=1 HTTP/1.1'
    assert redact_secrets(line) == ('POST /api/v1/waitpoints/tokens/token_1/callback/***?x=1 '
                                    'HTTP/1.1')
    assert redact_secrets("/api/v1/runs/subscribe?tag=a&ACCESS_TOKEN=olpt_x.y&b=2") == (
        "/api/v1/runs/subscribe?tag=a&ACCESS_TOKEN=***&b=2")
