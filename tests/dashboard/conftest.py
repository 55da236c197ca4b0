"""Fixtures for dashboard tests: apps over the shared ``engine`` and a headless Chromium.

Page tests use Starlette's TestClient on both stores with the fake clock. Browser tests
drive Debian's Chromium (``/usr/bin/chromium``) with Playwright against a real uvicorn
server and a real worker, on a real clock. A missing Chromium or Playwright skips them
locally and fails them under ``CI``, like a missing PostgreSQL.

Screenshots go to ``$OUTLAST_SCREENSHOTS`` when set (``docs/screenshots`` refreshes the
checked-in ones), else to a temporary folder.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.server.app import create_app
from outlast.store import open_store

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEV_KEY = "ol_dev_dashboard-test-0123456789"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}},
          "required": ["name"]}


@pytest.fixture
def dash_tasks(engine: Engine) -> list[str]:
    engine.register_tasks("dev", [
        TaskDefinition(id="hello-world", queue="hello-world"),
        TaskDefinition(id="typed", queue="emails", concurrency_limit=3, payload_schema=SCHEMA),
    ])
    return ["hello-world", "typed"]


@pytest.fixture
def dev_app(engine: Engine, dash_tasks: list[str]) -> Starlette:
    return create_app(engine, dev_api_key=DEV_KEY, scheduler=False)


@pytest.fixture
def dash(dev_app: Starlette) -> Iterator[TestClient]:
    """A browser-like client of the ``outlast dev`` dashboard (no login)."""
    with TestClient(dev_app, follow_redirects=False) as c:
        yield c


@pytest.fixture
def server_app(engine: Engine, dash_tasks: list[str]) -> Starlette:
    """The ``outlast server`` app: the dashboard asks for a key."""
    return create_app(engine, scheduler=False)


@pytest.fixture
def anonymous(server_app: Starlette) -> Iterator[TestClient]:
    with TestClient(server_app, follow_redirects=False) as c:
        yield c


# -- browser ----------------------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. CI=true: browser tests must not be skipped.", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module: Playwright's sync API keeps an event loop running on
    this thread while it is open, which later tests calling ``asyncio.run`` cannot share."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live_engine(store_url: str) -> Iterator[Engine]:
    """An engine on the real clock: a worker and a browser share it."""
    store = open_store(store_url)
    yield Engine(store, lease_seconds=5.0)
    store.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("OUTLAST_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
