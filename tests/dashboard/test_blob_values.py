"""A run whose payload and output are kept as blobs: its page shows their size and a
download link instead of a 10 MB JSON block, and the download gives the whole value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from outlast.engine import Engine, Outcome
from tests.conftest import definition
from tests.dashboard.support import live_dashboard, screenshot
from tests.worker.support import trigger

MB = 1024 * 1024


def large_run(engine: Engine) -> str:
    """A completed run with a 10 MB payload and a 1 MB output (no worker needed)."""
    engine.register_tasks("dev", [definition("big-report")])
    run_id = trigger(engine, "big-report", {"rows": ["r" * 100] * (100 * 1024)})
    [row] = engine.claim("dev", "w1", None, 1)
    engine.record([Outcome(run_id, row["lease_id"], 1, "completed", output="o" * MB)])
    return run_id


def test_the_run_page_offers_large_values_as_downloads(engine: Engine, dash: Any) -> None:
    run_id = large_run(engine)
    page = dash.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert len(html) < 200_000  # the values are not in the page
    assert f'href="/runs/{run_id}/payload.json"' in html
    assert f'href="/runs/{run_id}/output.json"' in html
    assert "10.2 MB of JSON" in html and "1.0 MB of JSON" in html
    got = dash.get(f"/runs/{run_id}/payload.json")
    assert got.headers["content-disposition"] == f'attachment; filename="{run_id}-payload.json"'
    assert json.loads(got.content) == {"rows": ["r" * 100] * (100 * 1024)}
    assert dash.get(f"/runs/{run_id}/output.json").json() == "o" * MB
    assert dash.get(f"/runs/{run_id}/other.json").status_code == 404


def test_a_download_needs_a_signed_in_session(engine: Engine, anonymous: Any) -> None:
    run_id = large_run(engine)
    r = anonymous.get(f"/runs/{run_id}/payload.json")
    assert r.status_code in (302, 303, 401)


def test_the_browser_downloads_a_large_payload(browser: Any, live_engine: Engine,
                                               shots: Path, tmp_path: Path) -> None:
    run_id = large_run(live_engine)
    with live_dashboard(live_engine) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.goto(f"{url}/runs/{run_id}")
        block = page.locator("#payload")
        assert "MB of JSON" in block.inner_text()
        block.scroll_into_view_if_needed()
        screenshot(page, shots / "run-large-payload.png")
        with page.expect_download() as info:
            block.get_by_role("link", name="Download payload").click()
        saved = tmp_path / "payload.json"
        info.value.save_as(saved)
        page.close()
    assert json.loads(saved.read_text())["rows"][0] == "r" * 100
