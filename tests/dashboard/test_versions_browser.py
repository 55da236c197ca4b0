"""Versions and a parked run in headless Chromium against a real server, on both stores.

An operator promotes a draining version from the Versions page (through its confirmation),
then opens a parked run, reads why it stopped and resumes it (through its confirmation);
screenshots at a desktop width and at a narrow one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from tests.dashboard.support import live_dashboard, screenshot
from tests.dashboard.test_versions_page import parked_run
from tests.versions.support import add_version, live_worker

pytestmark = pytest.mark.timeout(180)

LIVE = 20_000  # ms


def shoot(page: Any, shots: Path, name: str) -> None:
    screenshot(page, shots / f"{name}.png")


def versions(engine: Engine) -> tuple[str, str]:
    """v0 retired, v1 draining with two parked runs pinned to it, v2 current and live."""
    add_version(engine, "20261201.1", ["hello-world"], source="deploy")
    add_version(engine, "20261203.2", ["hello-world", "send-welcome-email"], source="deploy")
    engine.retire("dev", "20261201.1")
    parked = parked_run(engine, "20261203.2"), parked_run(engine, "20261203.2")
    add_version(engine, "20261204.1", ["hello-world", "send-welcome-email", "charge-card"],
                source="deploy")
    live_worker(engine, "worker-a", "20261204.1")
    return parked


def test_promote_a_version_and_resume_a_parked_run(browser: Any, live_engine: Engine,
                                                   shots: Path) -> None:
    with live_dashboard(live_engine) as url:
        first, second = versions(live_engine)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.set_default_timeout(LIVE)

        page.goto(f"{url}/versions")
        old = page.locator("#version-20261203\\.2")
        assert "draining" in old.inner_text().lower() and "2" in old.locator(".pinned").inner_text()
        assert page.locator("#version-20261204\\.1 .workers").inner_text() == "1"
        assert page.locator("#version-20261204\\.1 button[disabled]").count() == 1
        page.locator("#version-20261204\\.1 summary", has_text="3 tasks").click()
        assert "charge-card" in page.inner_text("#version-20261204\\.1 .task-list .menu")
        shoot(page, shots, "versions")

        # Promote asks first, then says what changed
        old.locator("summary", has_text="Promote").click()
        confirm = old.locator("button", has_text="Promote 20261203.2")
        confirm.wait_for()
        # the task list closes (the page's toggle handler runs after the click returns)
        page.wait_for_function(
            "document.querySelectorAll('details.dropdown[open]').length === 1", timeout=5000)
        shoot(page, shots, "versions-promote-confirm")
        confirm.click()
        page.locator(".flash-ok", has_text="Version 20261203.2 is current").wait_for()
        assert "draining" in page.inner_text("#version-20261204\\.1").lower()
        assert "current" in page.inner_text("#version-20261203\\.2").lower()

        # the pinned runs link to the runs list filtered by version and status
        page.click("#version-20261203\\.2 a.pinned-count")
        page.wait_for_url(re.compile(r"version=20261203\.2&status=PARKED"))
        assert page.locator("#runs-table tbody tr").count() == 2
        shoot(page, shots, "runs-by-version")
        page.goto(f"{url}/overview")
        assert page.inner_text("#parked-count .value") == "2"
        shoot(page, shots, "overview-parked")

        # a parked run: why it stopped, and Resume behind a confirmation
        page.goto(f"{url}/runs/{first}")
        panel = page.locator("#needs-attention")
        assert "step charge-card" in panel.inner_text() and "#2" in panel.inner_text()
        shoot(page, shots, "run-parked")
        panel.locator("summary", has_text="Resume").click()
        panel.locator("button", has_text="Resume run").wait_for()
        shoot(page, shots, "run-parked-resume-confirm")
        panel.locator("button", has_text="Resume run").click()
        page.locator(".flash-ok", has_text="queued to replay its history").wait_for()
        page.locator("h1 .chip", has_text="queued").wait_for()
        assert page.locator("#needs-attention").count() == 0
        assert live_engine.retrieve("dev", first)["status"] == "QUEUED"
        # no live worker runs its version: the page says whom it waits for
        assert "Waiting for a worker of version 20261203.2" in page.inner_text("#waiting-for")
        shoot(page, shots, "run-resumed")

        # narrow: the same pages still read and act
        narrow = browser.new_page(viewport={"width": 700, "height": 900})
        narrow.set_default_timeout(LIVE)
        narrow.goto(f"{url}/versions")
        shoot(narrow, shots, "versions-narrow")
        narrow.goto(f"{url}/runs/{second}")
        panel = narrow.locator("#needs-attention")
        panel.locator("summary", has_text="Move to version").click()
        panel.locator("select[name=version]").select_option("20261204.1")
        shoot(narrow, shots, "run-parked-move-narrow")
        panel.locator("button", has_text="Move run").click()
        narrow.locator(".flash-ok", has_text="Moved").wait_for()
        assert live_engine.retrieve("dev", second)["version"] == "20261204.1"
        shoot(narrow, shots, "run-moved-narrow")
