"""A run's page is its trace, in headless Chromium against a real server and worker.

An order workflow (two steps, a child run, a six-second sleep, a token) is watched live
from its page: each span appears by name while the run is still going, the sleep and then
the token are shown as what the run waits for, the token is approved from the run page
(after the page's confirmation for a reject is declined), and the run completes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from tests.dashboard.support import live_dashboard, running_worker, screenshot

pytestmark = pytest.mark.timeout(180)

LIVE = 25_000  # ms a live page gets to reach a state by itself
SPANS = ("step reserve-stock", "step take-payment", "trigger_and_wait print-label",
         "wait.sleep", "wait.create_token", "wait.for_token")


def span(page: Any, name: str) -> Any:
    return page.locator(".trace-row .trace-title", has_text=re.compile(f"^{re.escape(name)}$"))


def test_the_run_page_follows_the_trace_live_and_approves_the_token(
    browser: Any, live_engine: Engine, shots: Path
) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.set_default_timeout(LIVE)
        page.goto(f"{url}/tasks/order-workflow")
        page.fill("#payload", '{"order": 42}')
        page.click("text=Run test")
        page.wait_for_url(re.compile(r"/runs/run_"))
        run_page = page.url

        # live, with no reload: the steps and the child, then the sleep it waits on
        page.locator("#waiting .wait-sleep", has_text="Sleep").wait_for()
        for name in SPANS[:4]:
            span(page, name).wait_for()
        assert page.locator(".trace-row.kind-child", has_text="print-label").count() == 1
        assert page.locator(".trace-row.kind-child .trace-bar.tone-green").count() == 1
        assert page.locator("#waiting button", has_text="Skip wait").count() == 1

        # after the sleep, the token: every span by name while the run waits on it
        token_wait = page.locator("#waiting .wait-token")
        token_wait.wait_for()
        for name in SPANS:
            span(page, name).wait_for()
        assert page.url == run_page
        assert page.locator("h1 .chip", has_text="waiting").count() == 1
        token_id = token_wait.locator("a.mono").inner_text()
        assert token_id.startswith("token_")
        page.goto(run_page)  # as someone opening it now finds it
        span(page, "step take-payment").click()  # its details: output and attributes
        page.locator("#details-op-1", has_text="ch_42").wait_for()
        page.locator(".trace-row.kind-log", has_text="stock reserved").first.wait_for()
        screenshot(page, shots / "run-trace.png")

        # a reject asks first; declined, nothing is sent
        page.once("dialog", lambda d: d.dismiss())
        token_wait.locator("button", has_text="Reject").click()
        assert page.locator(".flash-ok", has_text="Completed").count() == 0
        page.locator("h1 .chip", has_text="waiting").wait_for()

        token_wait.locator("button", has_text="Approve").click()
        assert "Completed" in page.inner_text(".flash-ok")
        page.locator("h1 .chip", has_text="completed").wait_for()
        assert '"approved": true' in page.inner_text("#output")
        assert page.locator("#waiting").count() == 0
        span(page, "wait.for_token").wait_for()
        page.close()
