"""The dashboard mounted at ``/outlast`` in another app, in headless Chromium.

The app is what a FastAPI or Starlette user builds: ``outlast_app`` mounted under a
prefix, ``outlast_lifespan`` running the worker in the app's process. Log in, trigger from
a task page, watch the run go live to its end, approve a token; every request the browser
makes (pages, scripts, live parts, forms) stays under the prefix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from outlast.engine import Engine
from outlast.integrations.asgi import outlast_app, outlast_lifespan
from tests.dashboard.support import PROJECT, screenshot, serve
from tests.eventually import eventually

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms a live page gets to reach a state by itself


def test_the_dashboard_under_a_prefix(browser: Any, live_engine: Engine, store_url: str,
                                      shots: Path) -> None:
    outlast = outlast_app(database_url=store_url, root=PROJECT, environment="dev")
    app = Starlette(routes=[Mount("/outlast", app=outlast)],
                    lifespan=outlast_lifespan(outlast, concurrency=4, grace=5.0))
    key = live_engine.create_api_key("dev")
    with serve(app) as url:
        eventually(lambda: any(t["id"] == "approve-refund"
                               for t in live_engine.list_tasks("dev")), 30,
                   "the in-app worker to register its tasks")
        base = f"{url}/outlast"
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(LIVE)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))

        page.goto(base + "/tasks")
        page.wait_for_url(re.compile(r"/outlast/login\?next=%2Ftasks$"))
        page.fill("#key", key)
        page.click("button:has-text(\"Log in\")")
        page.wait_for_url(base + "/tasks")

        page.click("a:has-text('hello-world')")
        page.wait_for_url(base + "/tasks/hello-world")
        page.fill("#payload", '{"name": "Prefix"}')
        page.click("text=Run test")
        page.wait_for_url(re.compile(r"/outlast/runs/run_"))
        page.locator("h1 .chip", has_text="completed").wait_for()
        assert "Hello, Prefix!" in page.inner_text("main")

        page.goto(base + "/tasks/approve-refund")
        page.fill("#payload", '{"order": 7}')
        page.click("text=Run test")
        page.wait_for_url(re.compile(r"/outlast/runs/run_"))
        page.locator("h1 .chip", has_text="waiting").wait_for()  # live, no reload
        page.click("button:has-text('Approve')")
        page.locator("h1 .chip", has_text="completed").wait_for()
        screenshot(page, shots / "prefix-run.png")

        page.click("nav a:has-text('Runs')")
        page.wait_for_url(base + "/")
        page.locator("#runs-table .chip", has_text="completed").first.wait_for()
        page.close()
    assert requested and all(u.startswith(base + "/") for u in requested), [
        u for u in requested if not u.startswith(base + "/")]
    assert any("/outlast/static/htmx.min.js" in u for u in requested)
    assert any(re.search(r"/outlast/runs/run_\w+/live", u) for u in requested)
