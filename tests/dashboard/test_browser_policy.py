"""The dashboard under its content-security policy, in headless Chromium.

Every page is visited and its live parts left to refresh; the browser must report no
script, style or connection the policy blocked, and the live list must still update.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from tests.dashboard.support import live_dashboard

pytestmark = pytest.mark.timeout(180)

PAGES = ["/", "/tasks", "/queues", "/schedules", "/tokens", "/workers", "/overview"]


def test_no_page_breaks_the_policy(browser: Any, live_engine: Engine, tmp_path: Path) -> None:
    live_engine.register_tasks("dev", [TaskDefinition(id="hello-world", queue="hello-world")])
    violations: list[str] = []
    with live_dashboard(live_engine) as url:
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text or "Refused to" in m.text else None)
        page.on("pageerror", lambda e: violations.append(str(e)))
        for path in PAGES:
            response = page.goto(url + path)
            assert response is not None and response.status == 200, path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            page.wait_for_load_state("networkidle")
        # the runs list is live (htmx over server-sent events): a new run shows up
        page.goto(url + "/")
        page.wait_for_load_state("networkidle")
        [made] = live_engine.trigger_batch("dev", [NewRun(
            "hello-world", json.dumps({"name": "Ada"}),
            parse_options({}, live_engine.clock.now()))])
        page.locator(f"tr[data-run-id='{made.row['id']}']").wait_for()
    assert violations == []
