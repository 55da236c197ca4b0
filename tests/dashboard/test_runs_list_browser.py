"""The runs list in headless Chromium against a real server, on both stores.

A user presses ``/``, types the first characters of a run id, and lands on a list with
that run; then j/k move the highlight and Enter opens the run. A payload search and the
queue filter are driven from the form, and the list is saved as a screenshot.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from tests.dashboard.support import live_dashboard, screenshot

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms


def seed(engine: Engine) -> list[str]:
    """Eight runs over two queues, newest last; each a millisecond apart (ids sort so)."""
    engine.register_tasks("dev", [TaskDefinition(id="send-invoice", queue="billing"),
                                  TaskDefinition(id="resize-image", queue="media")])
    made = []
    for i, name in enumerate(["Grace", "Alan", "Barbara", "Edsger", "Ada", "Ken", "Niklaus",
                              "Frances"]):
        task = "send-invoice" if i % 2 else "resize-image"
        options = parse_options({"tags": [f"customer:{i}"],
                                 "idempotency_key": f"invoice-{1000 + i}"}, engine.clock.now())
        made.append(str(engine.trigger("dev", NewRun(task, json.dumps({"name": name}), options))
                        .row["id"]))
        time.sleep(0.002)
    return made


def test_find_a_run_by_id_prefix_and_open_it_from_the_keyboard(
    browser: Any, live_engine: Engine, shots: Path
) -> None:
    made = seed(live_engine)
    wanted = made[2]
    with live_dashboard(live_engine) as url:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        page.set_default_timeout(LIVE)
        page.goto(url + "/")
        page.locator("#runs-table").wait_for()

        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "runs-search"
        page.keyboard.type(wanted[:-6])
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"q=run_"))
        rows = page.locator("#runs-table tbody tr")
        assert rows.count() == 1
        assert rows.first.get_attribute("data-run-id") == wanted

        # the keyboard: j highlights the first run, Enter opens it
        page.locator("h1").click()  # out of the search box
        page.keyboard.press("j")
        assert "kbd-current" in (rows.first.get_attribute("class") or "")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/runs/{wanted}$"))

        # payload text and a queue filter, from the form; j/k walk the list
        page.goto(url + "/")
        page.locator("#runs-search").fill("AN")
        page.select_option("select[name=queue]", "billing")
        page.click("#filters button[type=submit]")
        page.wait_for_url(re.compile(r"queue=billing"))
        # billing has the odd runs; "an" (any case) is in Alan's and Frances's payloads
        expected = [made[7], made[1]]
        got = page.locator("#runs-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.runId)")
        assert got == expected
        page.locator("h1").click()
        for key in ("j", "j", "k"):
            page.keyboard.press(key)
        current = page.locator("#runs-table tbody tr.kbd-current")
        assert current.get_attribute("data-run-id") == made[7]
        page.keyboard.press("j")
        screenshot(page, shots / "runs-list-search.png")
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(rf"/runs/{made[1]}$"))
