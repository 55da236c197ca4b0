"""The dashboard on a phone (390 × 844) and on a wide screen (1,400 × 900) in headless
Chromium, against a real server and worker, on both stores.

Every page fits the width (nothing pushes the page sideways) and every page of the nav is
one tap away; destructive actions ask first; times read in the viewer's zone with UTC on
hover, also after a live refresh; a Reschedule form goes away once the run has started.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from tests.conftest import trigger_run
from tests.dashboard.support import live_dashboard, running_worker, screenshot
from tests.eventually import eventually

pytestmark = pytest.mark.timeout(240)

LIVE = 20_000  # ms
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1400, "height": 900}
#: the zone the browser of the time-zone test lives in (no daylight saving: UTC+9 all year)
TOKYO = "Asia/Tokyo"


def seed(engine: Engine) -> dict[str, str]:
    """Something on every page: finished, failed, waiting and delayed runs, a token, a
    schedule; the paths of the pages that show one of them."""
    done = trigger_run(engine, "hello-world", {"name": "Ada"}, tags=["signup", "user:17"])
    failed = trigger_run(engine, "charge-card", {"card": "4242"})
    trigger_run(engine, "approve-refund", {"order": 42})
    trigger_run(engine, "send-welcome-email", {"name": "Grace"}, delay="1h")
    eventually(lambda: engine.retrieve("dev", failed.row["id"])["status"] == "FAILED", 30,
               "the failing run to fail")
    eventually(lambda: engine.durable.list_tokens("dev", status="PENDING")[0], 30,
               "the refund to wait for its token")
    schedule = engine.schedules.list("dev")[0][0]["id"]
    return {"run": f"/runs/{done.row['id']}", "failed": f"/runs/{failed.row['id']}",
            "schedule": f"/schedules/{schedule}"}


def pages(paths: dict[str, str]) -> list[str]:
    return ["/overview", "/", paths["run"], paths["failed"], "/tasks", "/tasks/hello-world",
            "/queues", "/queues/resize-image", "/schedules", paths["schedule"], "/versions",
            "/workers", "/tokens", "/tokens?status=COMPLETED"]


def page_width(page: Any) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def assert_fits(page: Any, width: int) -> None:
    assert page_width(page) <= width + 1, (page.url, page_width(page))


def assert_nav_reachable(page: Any, width: int) -> None:
    """The current page's tab shows without scrolling; every other one is in reach (the
    row scrolls sideways) and lands fully on screen."""
    current = page.locator(".sidebar nav a[aria-current=page]")
    if current.count():
        box = current.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, page.url
    links = page.locator(".sidebar nav a")
    assert links.count() >= 8
    for i in range(links.count()):
        link = links.nth(i)
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (
            page.url, link.inner_text(), box)


def test_every_page_fits_a_phone_and_a_wide_screen(browser: Any, live_engine: Engine,
                                                   shots: Path) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        paths = seed(live_engine)
        phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        wide = browser.new_page(viewport=WIDE)
        for page in (phone, wide):
            page.set_default_timeout(LIVE)
        for path in pages(paths):
            phone.goto(url + path)
            assert_fits(phone, PHONE["width"])
            assert_nav_reachable(phone, PHONE["width"])
            wide.goto(url + path)
            assert_fits(wide, WIDE["width"])
            sidebar = wide.locator(".sidebar").bounding_box()
            assert sidebar and sidebar["width"] < 260 and sidebar["height"] >= WIDE["height"] - 1
            assert wide.locator(".sidebar nav a").last.is_visible()

        # a tab far along the row is reached with one swipe and one tap
        phone.goto(url + "/")
        phone.locator(".sidebar nav a", has_text="Overview").click()
        phone.wait_for_url(re.compile(r"/overview$"))
        assert phone.locator(".sidebar nav a[aria-current=page]").inner_text() == "Overview"

        phone.goto(url + "/")
        screenshot(phone, shots / "phone-runs.png")
        phone.goto(url + paths["run"])
        phone.locator("h1 .chip", has_text="completed").wait_for()
        screenshot(phone, shots / "phone-run.png")
        wide.goto(url + "/")
        screenshot(wide, shots / "wide-runs.png")
        phone.close()
        wide.close()

    key = live_engine.create_api_key("prod")
    with live_dashboard(live_engine, dev=False) as url:
        phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        phone.goto(url + "/")
        phone.wait_for_url(re.compile(r"/login"))
        assert_fits(phone, PHONE["width"])
        assert phone.locator("#key").is_visible()
        phone.fill("#key", key)
        phone.click("button:has-text('Log in')")
        phone.wait_for_selector("text=No runs yet")
        assert_fits(phone, PHONE["width"])
        assert phone.locator(".env .chip", has_text="prod").is_visible()
        assert phone.locator(".env button", has_text="Log out").is_visible()
        phone.close()


def tokyo(iso: str) -> str:
    """``2026-01-01 09:00:03 GMT+9``: how the page writes a time in Tokyo."""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(ZoneInfo(TOKYO))
    return when.strftime("%Y-%m-%d %H:%M:%S") + " GMT+9"


def utc_title(iso: str) -> str:
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return when.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def test_confirmations_local_times_and_a_form_the_run_outgrew(
    browser: Any, live_engine: Engine, shots: Path
) -> None:
    with running_worker(live_engine), live_dashboard(live_engine) as url:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                      timezone_id=TOKYO, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(LIVE)

        # a delayed run: Reschedule fits; the times read in Tokyo, UTC on hover
        delayed = trigger_run(live_engine, "hello-world", {"name": "Tokyo"}, delay="4s")
        page.goto(f"{url}/runs/{delayed.row['id']}")
        assert page.locator("#reschedule").is_visible()
        created = page.locator(".facts time").first
        iso = created.get_attribute("datetime")
        assert created.inner_text() == tokyo(iso)
        assert created.get_attribute("title") == utc_title(iso)

        # it starts and completes by itself: the live page drops the form, and the new
        # Finished time is local too
        page.locator("h1 .chip", has_text="completed").wait_for()
        # the form follows the status in a handler of its own, a moment after the chip
        page.locator("#reschedule").wait_for(state="hidden")
        finished = page.locator(".facts dd time").nth(2)
        assert finished.inner_text() == tokyo(finished.get_attribute("datetime"))
        assert_fits(page, PHONE["width"])

        # Cancel asks first: "No" leaves the run alone, "OK" cancels it
        slow = trigger_run(live_engine, "resize-image", {"seconds": 60})
        page.goto(f"{url}/runs/{slow.row['id']}")
        asked: list[str] = []

        def answer(ok: bool) -> None:
            def handle(dialog: Any) -> None:
                asked.append(dialog.message)
                (dialog.accept if ok else dialog.dismiss)()
            page.once("dialog", handle)

        answer(False)
        page.click("button:has-text('Cancel run')")
        assert asked == ["Cancel this resize-image run? It stops now and is not retried."]
        page.wait_for_timeout(300)  # a form the answer did not stop would be on its way
        assert live_engine.retrieve("dev", slow.row["id"])["status"] != "CANCELED"
        assert page.locator(".flash").count() == 0
        answer(True)
        page.click("button:has-text('Cancel run')")
        assert "Canceled" in page.inner_text(".flash-ok")
        assert live_engine.retrieve("dev", slow.row["id"])["status"] == "CANCELED"
        assert len(asked) == 2

        # the same on the list: Cancel selected asks before anything is canceled
        queued = [trigger_run(live_engine, "send-welcome-email", {"name": n}, delay="1h")
                  for n in ("Ada", "Grace")]
        page.goto(url + "/")
        for run in queued:
            page.check(f"input.run-select[value={run.row['id']}]")
        answer(False)
        page.click("button:has-text('Cancel selected')")
        assert asked[-1].startswith("Cancel the selected runs?")
        page.wait_for_timeout(300)
        assert {live_engine.retrieve("dev", r.row["id"])["status"] for r in queued} == {
            "DELAYED"}
        answer(True)
        page.click("button:has-text('Cancel selected')")
        assert "Canceled 2 runs." in page.inner_text(".flash-ok")
        listed = page.locator("#runs-table time").first
        assert listed.get_attribute("title") == utc_title(listed.get_attribute("datetime"))
        assert re.fullmatch(r"\d\d:\d\d:\d\d", listed.inner_text())

        # rejecting a token asks too, from the phone's token list
        trigger_run(live_engine, "approve-refund", {"order": 7})
        page.goto(f"{url}/tokens")
        page.locator("td.tags", has_text="order:7").wait_for()
        answer(True)
        page.click("button:has-text('Reject')")
        assert asked[-1].startswith("Reject token_")
        assert "Completed" in page.inner_text(".flash-ok")
        tokens = live_engine.durable.list_tokens("dev", status="COMPLETED")[0]
        assert [t["output"] for t in tokens] == [{"approved": False}]
        context.close()


def test_without_javascript_times_read_in_utc(browser: Any, live_engine: Engine) -> None:
    """The server's own text is the fallback: UTC, saying so."""
    live_engine.register_tasks("dev", [TaskDefinition(id="hello-world", queue="hello-world")])
    with live_dashboard(live_engine) as url:
        run = trigger_run(live_engine, "hello-world", {"name": "Ada"})
        context = browser.new_context(viewport=PHONE, java_script_enabled=False,
                                      timezone_id=TOKYO)
        page = context.new_page()
        page.goto(f"{url}/runs/{run.row['id']}")
        created = page.locator(".facts time").first
        assert created.inner_text() == utc_title(created.get_attribute("datetime"))
        assert_fits(page, PHONE["width"])
        context.close()
