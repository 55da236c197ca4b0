"""Schedules in headless Chromium against a real server and worker, on both stores.

The worker's code declares ``nightly-report`` with ``@schedules.task``; the test creates a
second schedule from the form (watching the live preview of its next runs), is told about
a mistake beside the field, and resumes a paused schedule with its button.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from tests.dashboard.support import live_dashboard, running_worker, screenshot

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms
PARIS_NINE = re.compile(r"^\w{3} \w{3} \d{1,2}, 09:00 CES?T")


def shoot(page: Any, shots: Path, name: str) -> None:
    screenshot(page, shots / f"{name}.png")


def paused_schedule(engine: Engine) -> str:
    made, _ = engine.schedules.create("dev", task="send-welcome-email", cron_text="0 8 * * MON",
                                      timezone="America/New_York", external_id="customer-42")
    engine.schedules.deactivate("dev", made["id"])
    return str(made["id"])


def test_create_a_schedule_and_see_its_next_runs(browser: Any, live_engine: Engine,
                                                 shots: Path) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        paused = paused_schedule(live_engine)
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(LIVE)
        page.goto(f"{url}/schedules")
        declared = page.locator("tr", has_text="nightly-report")
        assert "in code" in declared.inner_text() and "KST" in declared.inner_text()

        # the preview reads the cron aloud and lists the next runs while typing
        page.fill("#f-task", "hello-world")
        page.fill("#f-timezone", "Europe/Paris")
        page.fill("#f-cron", "0 9 * * MON-FRI")
        page.fill("#f-external_id", "customer-7")
        page.locator("#cron-preview", has_text="At 09:00 on Monday through Friday").wait_for()
        assert page.locator("#cron-preview li").count() == 5
        page.click("button:has-text('Create schedule')")
        page.wait_for_url(re.compile(r"/schedules/sched_"))
        assert "Created the schedule of hello-world" in page.inner_text(".flash-ok")
        times = page.locator("ol.times li").all_inner_texts()
        assert len(times) == 5 and all(PARIS_NINE.match(t) for t in times), times
        shoot(page, shots, "schedule")

        # a mistake is explained beside its field, and what was typed stays
        page.goto(f"{url}/schedules")
        page.fill("#f-task", "hello-world")
        page.fill("#f-cron", "0 9 * * FUNDAY")
        page.fill("#f-timezone", "Europe/Paris")
        page.click("button:has-text('Create schedule')")
        assert "invalid cron" in page.inner_text("#f-cron-error")
        assert page.input_value("#f-cron") == "0 9 * * FUNDAY"
        assert page.input_value("#f-timezone") == "Europe/Paris"
        shoot(page, shots, "schedule-form-error")

        page.goto(f"{url}/schedules")
        rows = page.locator("table.schedules tbody tr")
        assert rows.count() == 3
        shoot(page, shots, "schedules")
        page.locator(f"tr#{paused} button:has-text('Activate')").click()
        assert "Activated the schedule of send-welcome-email" in page.inner_text(".flash-ok")
        assert live_engine.schedules.retrieve("dev", paused)["active"]
        page.close()
