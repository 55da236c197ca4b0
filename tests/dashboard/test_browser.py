"""The dashboard in headless Chromium against a real server and a real worker.

One journey per store: trigger from a task's Test form and watch the run go live to
COMPLETED, read a failure's traceback, filter the list and bulk-replay the selection,
approve the token a run waits for and see it finish, then visit every page (saving a
screenshot of each).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from tests.dashboard.support import live_dashboard, running_worker, screenshot

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms a live page gets to reach a state by itself


def seed(engine: Engine) -> None:
    """A few runs so that lists and charts have something to show."""
    now = engine.clock.now()
    runs = [NewRun("send-welcome-email", json.dumps({"name": n}),
                   parse_options({"tags": ["signup", f"user:{i}"]}, now))
            for i, n in enumerate(["Grace", "Alan", "Barbara", "Edsger"], start=17)]
    runs += [NewRun("resize-image", json.dumps({"seconds": 0.1 * i}),
                    parse_options({"tags": ["media"]}, now)) for i in range(4)]
    engine.trigger_batch("dev", runs)


def shoot(page: Any, shots: Path, name: str) -> None:
    screenshot(page, shots / f"{name}.png")


def test_trigger_watch_fail_filter_and_bulk_replay(
    browser: Any, live_engine: Engine, shots: Path
) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        seed(live_engine)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(LIVE)

        # trigger from the Test form; the run page follows it live to COMPLETED
        page.goto(f"{url}/tasks/hello-world")
        page.fill("#payload", '{"name": "Ada"}')
        page.click("text=Run test")
        page.wait_for_url(re.compile(r"/runs/run_"))
        page.locator("h1 .chip", has_text="completed").wait_for()
        assert "Hello, Ada!" in page.inner_text("#output")
        assert "attempt 1 says hello" in page.inner_text("#logs")
        shoot(page, shots, "run-completed")

        # a payload that misfits the typed task's schema is refused with the reason
        page.goto(f"{url}/tasks/send-welcome-email")
        page.fill("#payload", '{"excited": true}')
        page.click("text=Run test")
        assert "name" in page.inner_text(".flash-error")
        shoot(page, shots, "task-test-form")

        # a failure: its traceback is on the run page
        page.goto(f"{url}/tasks/charge-card")
        page.fill("#payload", '{"card": "4242"}')
        page.click("text=Run test")
        page.locator("h1 .chip", has_text="failed").wait_for()
        traceback = page.inner_text("#error .traceback")
        assert "ValueError: card 4242 was declined by the bank" in traceback
        assert "dashboard_tasks.py" in traceback
        page.locator("#error").scroll_into_view_if_needed()
        shoot(page, shots, "run-failed")

        # filter the list by task (the URL keeps it), select all, bulk replay
        page.goto(url + "/")
        page.select_option("select[name=task]", "send-welcome-email")
        page.click("text=Apply")
        page.wait_for_url(re.compile(r"task=send-welcome-email"))
        rows = page.locator("#runs-table tbody tr")
        assert rows.count() == 4
        page.check("[data-select-all]")
        page.click("text=Replay selected")
        assert "Replayed 4 runs." in page.inner_text(".flash-ok")
        page.wait_for_function(
            "document.querySelectorAll('#runs-table tbody tr').length === 8")
        page.locator("#runs-table .chip", has_text="queued").first.wait_for(state="detached")
        shoot(page, shots, "runs-filtered")

        # human in the loop: approve the token a run waits for, and see the run finish
        page.goto(f"{url}/tasks/approve-refund")
        page.fill("#payload", '{"order": 42}')
        page.click("text=Run test")
        page.locator("h1 .chip", has_text="waiting").wait_for()
        waiting_run = page.url
        page.goto(f"{url}/tokens")
        page.locator("td.tags", has_text="order:42").wait_for()
        shoot(page, shots, "tokens")
        page.click("button:has-text('Approve')")
        assert "Completed" in page.inner_text(".flash-ok")
        page.goto(waiting_run)
        page.locator("h1 .chip", has_text="completed").wait_for()
        assert '"refunded": true' in page.inner_text("#output")

        page.goto(url + "/")
        page.wait_for_function("!document.querySelector('#runs-table .chip.tone-blue')")
        shoot(page, shots, "runs")
        for name in ("tasks", "queues", "workers", "overview"):
            page.goto(f"{url}/{name}")
            shoot(page, shots, name)
        page.close()


def test_login_page_and_an_empty_dashboard(browser: Any, live_engine: Engine,
                                           shots: Path) -> None:
    key = live_engine.create_api_key("prod")
    with live_dashboard(live_engine, dev=False) as url:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.goto(url + "/")
        page.wait_for_url(re.compile(r"/login"))
        shoot(page, shots, "login")
        page.fill("#key", "ol_prod_wrong")
        page.click("button:has-text(\"Log in\")")
        assert "not valid" in page.inner_text(".flash-error")
        page.fill("#key", key)
        page.click("button:has-text(\"Log in\")")
        page.wait_for_selector("text=No runs yet")
        assert "prod" in page.inner_text(".env")
        shoot(page, shots, "runs-empty")
        page.close()
