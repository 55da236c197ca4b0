"""Queues in headless Chromium against a real server and worker, on both stores.

The test pauses a queue from its row, watches runs pile up in it, overrides its limits
from the queue's form (told about a bad rate beside the field first), sets the environment
limit, and resumes the queue: the worker then runs no more of it at once than the new
limit allows.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from tests.conftest import trigger_run
from tests.dashboard.support import (
    TASKS,
    accept_confirmations,
    live_dashboard,
    running_worker,
    screenshot,
)

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms


def row(page: Any, queue: str) -> Any:
    return page.locator(f'tr[data-queue="{queue}"]')


def test_pause_a_queue_and_change_its_limit(browser: Any, live_engine: Engine,
                                           shots: Path) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        # a queue whose limits are declared in code, beside the worker's own queues
        declared = [live_engine.definition("dev", t["id"]) for t in live_engine.list_tasks("dev")]
        live_engine.register_tasks("dev", [*declared, TaskDefinition(
            id="sync-crm", queue="crm-api", concurrency_limit=5, total_limit=20,
            rate_limit="100/m", key_rate_limit="10/s")])
        live_engine.queues.pause("dev", "approve-refund")
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(LIVE)
        accept_confirmations(page)  # pausing asks first
        page.goto(f"{url}/queues")
        assert row(page, "crm-api").locator("td.concurrency_limit").inner_text().split() == [
            "5", "code"]

        # pause from the row; runs triggered now wait, and the live table counts them
        row(page, "resize-image").locator("button:has-text('Pause')").click()
        assert "Paused resize-image" in page.inner_text(".flash-ok")
        assert row(page, "resize-image").locator(".chip").inner_text().lower() == "paused"
        assert live_engine.queues.retrieve("dev", "resize-image")["paused"]
        for _ in range(3):
            trigger_run(live_engine, "resize-image", {"seconds": 5})
        row(page, "resize-image").locator("td.queued", has_text="3").wait_for()

        # the limits form: a bad rate is explained beside its field, what was typed stays
        row(page, "resize-image").locator("a:has-text('Edit limits')").click()
        page.wait_for_url(re.compile(r"/queues/resize-image"))
        page.fill("#f-concurrency_limit", "2")
        page.fill("#f-rate_limit", "fast")
        page.click("button:has-text('Save limits')")
        screenshot(page, shots / "queue-form-error.png")
        assert "Expected COUNT/WINDOW like '100/m'" in page.inner_text("#f-rate_limit-error")
        assert page.input_value("#f-concurrency_limit") == "2"
        assert page.input_value("#f-rate_limit") == "fast"
        assert live_engine.queues.retrieve("dev", "resize-image")["overrides"] == {}
        page.fill("#f-rate_limit", "30/m")
        page.press("#f-rate_limit", "Enter")  # Enter saves (it does not reset)
        assert "Overrode the limits of resize-image" in page.inner_text(".flash-ok")
        assert page.locator("#limit-concurrency_limit .source").inner_text() == "override"
        assert "The code says no limit" in page.inner_text("#limit-concurrency_limit")
        queue = live_engine.queues.retrieve("dev", "resize-image")
        assert queue["overrides"] == {"concurrency_limit": 2, "rate_limit": "30/m"}
        screenshot(page, shots / "queue.png")

        # the environment limit, viewed and set from the list
        page.goto(f"{url}/queues")
        page.fill("#f-env-limit", "8")
        page.click("button:has-text('Set limit')")
        assert "At most 8 runs of dev" in page.inner_text(".flash-ok")
        assert "of 8 executing" in page.inner_text("#environment-limit")

        # resume: the worker starts two at a time, as the override says
        row(page, "resize-image").locator("button:has-text('Resume')").click()
        assert "Resumed resize-image" in page.inner_text(".flash-ok")
        resized = row(page, "resize-image")
        resized.locator("td.running", has_text="2").wait_for()
        assert resized.locator("td.queued").inner_text() == "1"
        assert resized.locator("td.concurrency_limit").inner_text().split() == ["2", "override"]
        assert resized.locator("td.rate_limit").inner_text().split() == ["30/m", "override"]
        assert "active" in resized.locator(".chip").inner_text().lower()
        page.reload()
        page.locator("#environment-limit", has_text="2 of 8 executing").wait_for()
        screenshot(page, shots / "queues.png")
        executing = [q["running"] for q in live_engine.queues.list("dev")
                     if q["name"] == "resize-image"]
        assert executing[0] <= 2
        assert {q["name"] for q in live_engine.queues.list("dev")} >= set(TASKS) | {"crm-api"}
        page.close()
