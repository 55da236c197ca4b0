"""Cancel all matching in headless Chromium, on both stores: filter the runs list, press
the button, say yes, and watch the server's upkeep finish the bulk action on its page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from tests.conftest import trigger_run
from tests.dashboard.support import accept_confirmations, live_dashboard, screenshot

pytestmark = pytest.mark.timeout(120)

LIVE = 20_000  # ms


def test_cancel_all_matching_from_the_runs_list(browser: Any, live_engine: Engine,
                                               shots: Path) -> None:
    live_engine.register_tasks("dev", [TaskDefinition(id=t, queue=t)
                                       for t in ("send-invoice", "resize-image")])
    invoices = [trigger_run(live_engine, "send-invoice", {"n": i}, delay="1h",
                            tags=["batch:march"]).row["id"] for i in range(120)]
    images = [trigger_run(live_engine, "resize-image", {"n": i}, delay="1h").row["id"]
              for i in range(5)]
    with live_dashboard(live_engine) as url:
        page = browser.new_page(viewport={"width": 1360, "height": 820})
        page.set_default_timeout(LIVE)
        accept_confirmations(page)
        page.goto(f"{url}/?task=send-invoice&tag=batch:march")
        button = page.locator("button", has_text="Cancel all matching (120)")
        assert "Cancel all 120 runs" in (button.get_attribute("data-confirm") or "")
        screenshot(page, shots / "runs-cancel-all.png")
        button.click()
        page.wait_for_url(f"{url}/bulk-actions*")
        assert "Canceling the matching runs" in page.inner_text(".flash-ok")
        page.locator('tr[data-status="COMPLETED"]').wait_for()
        row = page.locator("tr[data-bulk-id]").first
        assert "120 / 120" in row.inner_text()
        assert "task send-invoice, tag batch:march" in row.inner_text()
        screenshot(page, shots / "bulk-actions.png")
    assert {live_engine.retrieve("dev", r)["status"] for r in invoices} == {"CANCELED"}
    assert {live_engine.retrieve("dev", r)["status"] for r in images} == {"DELAYED"}
