"""The Errors page in headless Chromium against a real server and a real worker, on both
stores: failures a worker recorded are grouped, and a click leads to the group's runs and
to the group's page with its stack.

Beside what the worker fails now, a day of earlier failures of a task it does not run is
recorded through the engine on a fake clock (the same path a worker's outcome takes), so
the charts have a shape to show.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from tests.dashboard.support import live_dashboard, running_worker, screenshot
from tests.errors.support import error
from tests.integration.support import outcome

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms
CARDS = ("4242", "5555", "3782", "6011")
HOUR = 3600.0


def earlier_failures(engine: Engine) -> None:
    """A day of ``sync-inventory`` failures (two kinds) hours ago, one retried and then
    successful, recorded by engines whose clocks are set back."""
    engine.register_tasks("dev", [TaskDefinition(id="sync-inventory", queue="inventory")],
                          complete=False)
    now = time.time()
    for hours_ago, message, kind, then in (
            (22.5, "upstream 503 from inventory-api after 1200 ms", "HTTPError", "failed"),
            (19.5, "upstream 503 from inventory-api after 980 ms", "HTTPError", "completed"),
            (15.5, "upstream 503 from inventory-api after 1410 ms", "HTTPError", "failed"),
            (12.5, "upstream 502 from inventory-api after 30 ms", "HTTPError", "failed"),
            (9.5, "SKU 'AX-1029' has no warehouse", "LookupError", None),
            (5.5, "upstream 503 from inventory-api after 2210 ms", "HTTPError", "failed"),
            (5.4, "upstream 504 from inventory-api after 10000 ms", "HTTPError", "failed"),
            (2.5, "SKU 'BQ-77' has no warehouse", "LookupError", None)):
        clock = FakeClock(now - hours_ago * HOUR)
        # a lease longer than the time set back: the live sweeper must not take the attempt
        past = Engine(engine.store, clock=clock, lease_seconds=2 * 86400)
        past.trigger("dev", NewRun("sync-inventory", "{}",
                                   TriggerOptions(max_attempts=1 if then is None else 2)))
        (row,) = past.claim("dev", "seed", ["inventory"], 10)
        assert past.record([outcome(row, "failed", error=error(message, kind))])[0]
        if then is not None:
            clock.advance(60)
            (row,) = past.claim("dev", "seed", ["inventory"], 10)
            past.record([outcome(row, then, **({"error": error(message, kind)}
                                               if then == "failed" else {"output": 1}))])


def test_errors_are_grouped_and_lead_to_their_runs(browser: Any, live_engine: Engine,
                                                   shots: Path) -> None:
    with live_dashboard(live_engine) as url, running_worker(live_engine):
        earlier_failures(live_engine)
        charges = [live_engine.trigger("dev", NewRun(
            "charge-card", f'{{"card": "{card}"}}', TriggerOptions())).row["id"]
            for card in CARDS]
        live_engine.trigger("dev", NewRun("approve-refund", "{}", TriggerOptions(max_attempts=1)))
        live_engine.trigger("dev", NewRun("resize-image", '{"seconds": "fast"}',
                                          TriggerOptions(max_attempts=1)))
        page = browser.new_page(viewport={"width": 1360, "height": 760})
        page.set_default_timeout(LIVE)

        def settled() -> bool:
            # the runs first, then the page: a page loaded before their last attempts
            # failed would show half the attempts
            if not all(live_engine.retrieve("dev", r)["status"] == "FAILED" for r in charges):
                return False
            page.goto(f"{url}/errors")
            return page.locator("#error-groups tbody tr").count() == 5
        deadline = time.monotonic() + 30
        while not settled():
            assert time.monotonic() < deadline, (
                [live_engine.retrieve("dev", r)["status"] for r in charges],
                [(g["task_id"], g["error_type"], g["attempts_failed"], g["runs_failed"])
                 for g in live_engine.errors.list("dev")])
            page.wait_for_timeout(300)

        charge = page.locator("#error-groups tbody tr", has_text="charge-card")
        assert "card <n> was declined" not in charge.inner_text()  # a real message is shown
        assert "was declined by the bank" in charge.inner_text()
        assert charge.locator(".runs-link").inner_text() == "8"  # two attempts per run
        assert charge.locator(".chip.tone-red").inner_text() == "4"
        assert page.locator("#error-groups tbody tr", has_text="KeyError").count() == 1
        screenshot(page, shots / "errors.png")

        # the task filter
        page.select_option("select[name=task]", "sync-inventory")
        page.wait_for_url(re.compile(r"task=sync-inventory"))
        assert page.locator("#error-groups tbody tr").count() == 2
        page.goto(f"{url}/errors")

        # the count leads to the group's runs
        page.locator("#error-groups tbody tr", has_text="charge-card").locator(
            ".runs-link").click()
        page.wait_for_url(re.compile(r"/\?error=[0-9a-f]{16}"))
        listed = {page.locator("tbody tr[data-run-id]").nth(i).get_attribute("data-run-id")
                  for i in range(page.locator("tbody tr[data-run-id]").count())}
        assert listed == set(charges)

        # the group's page: its numbers, newest occurrences and a stack
        page.goto(f"{url}/errors")
        page.locator("#error-groups tbody tr", has_text="HTTPError").locator(
            "a.error-type").click()
        page.wait_for_url(re.compile(r"/errors/[0-9a-f]{16}"))
        assert "upstream <n> from inventory-api after <n> ms" in page.inner_text(".error-facts")
        assert "HTTPError: upstream" in page.inner_text("#error-stack")
        # 6 runs: 5 failed twice, 1 failed once and then completed
        assert page.locator("#occurrences tbody tr", has_text="retried").count() == 6
        assert page.locator("#occurrences tbody tr", has_text="final").count() == 5
        assert page.locator("#occurrences tbody tr", has_text="completed").count() == 1
        screenshot(page, shots / "errors-group.png")
        page.click("#group-runs")
        page.wait_for_url(re.compile(r"/\?error="))
        assert page.locator("tbody tr[data-run-id]").count() == 6
