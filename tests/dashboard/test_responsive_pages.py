"""What every page carries for phones, confirmations and the viewer's time zone, through
Starlette's TestClient on SQLite and PostgreSQL (``test_responsive_browser`` watches the
same in Chromium)."""

from __future__ import annotations

import re
from typing import Any

from outlast.engine import Engine
from outlast.server.dashboard import format
from tests.conftest import T0, trigger_run
from tests.dashboard.test_pages import flash, post

#: T0 (2026-01-01 00:00:00 UTC) as the pages write it
T0_ISO = "2026-01-01T00:00:00.000Z"


def confirm_of(page: str, label: str) -> str:
    """The data-confirm question of the button labelled ``label`` ('' when it asks none)."""
    tag = re.search(rf"<button([^>]*)>{re.escape(label)}</button>", page)
    assert tag, f"no {label} button"
    question = re.search(r'data-confirm="([^"]*)"', tag.group(1))
    return question.group(1) if question else ""


def test_every_page_links_the_favicon_and_marks_the_current_page(dash: Any,
                                                                 anonymous: Any) -> None:
    icon = dash.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in icon.text
    for client, path in ((dash, "/tasks"), (dash, "/runs/run_nope"), (anonymous, "/login")):
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get(path).text
    page = dash.get("/queues").text
    assert '<a href="/queues" class="active" aria-current="page">Queues</a>' in page
    assert page.count('aria-current="page"') == 1


def test_times_are_time_elements_in_utc_with_utc_on_hover(dash: Any, engine: Engine) -> None:
    run_id = trigger_run(engine, "hello-world", {}, tags=["a"]).row["id"]
    run_page = dash.get(f"/runs/{run_id}").text
    assert (f'<time datetime="{T0_ISO}" data-format="full" title="2026-01-01 00:00:00 UTC">'
            "2026-01-01 00:00:00 UTC</time>") in run_page  # Created, before the script
    listed = dash.get("/").text
    assert (f'<time datetime="{T0_ISO}" data-format="clock" title="2026-01-01 00:00:00 UTC">'
            "00:00:00</time>") in listed
    assert f'<time datetime="{T0_ISO}" data-format="clock"' in dash.get("/tasks/hello-world").text


def test_time_elements_of_no_time_and_of_milliseconds() -> None:
    assert format.when(None) == "–" and format.when(float("inf")) == "–"
    assert format.when(1e300) == "–"
    precise = format.when(T0 + 1.25, "precise")
    assert precise == ('<time datetime="2026-01-01T00:00:01.250Z" data-format="precise" '
                       'title="2026-01-01 00:00:01 UTC">00:00:01.250</time>')
    assert ">Jan 1, 00:00</time>" in format.when(T0, "clock", T0 + 86400 * 3)


def test_destructive_actions_ask_for_confirmation(dash: Any, engine: Engine) -> None:
    run_id = trigger_run(engine, "hello-world", {}).row["id"]
    engine.durable.new_token("dev", None, ["approval"], None)
    engine.schedules.create("dev", task="hello-world", cron_text="0 3 * * *", timezone="UTC")
    engine.queues.update("dev", "emails", {"concurrency_limit": 2})

    assert "Cancel this hello-world run?" in confirm_of(dash.get(f"/runs/{run_id}").text,
                                                        "Cancel run")
    assert "Cancel the selected runs?" in confirm_of(dash.get("/").text, "Cancel selected")
    assert "Reject token_" in confirm_of(dash.get("/tokens").text, "Reject")
    assert confirm_of(dash.get("/tokens").text, "Approve") == ""  # answering is no loss
    schedules = dash.get("/schedules").text
    assert "Pause the schedule of hello-world?" in confirm_of(schedules, "Deactivate")
    queues = dash.get("/queues").text
    assert "Pause the emails queue?" in confirm_of(queues, "Pause")
    assert "Drop every limit override of emails?" in confirm_of(queues, "Reset to code")
    queue = dash.get("/queues/emails").text
    assert "Drop the override of " in confirm_of(queue, "Reset to code")
    assert "Drop every limit override" in confirm_of(queue, "Reset all to code")


def test_reschedule_fits_only_a_waiting_run_and_a_late_submit_is_told_why(
    dash: Any, engine: Engine
) -> None:
    run_id = trigger_run(engine, "hello-world", {}).row["id"]
    page = dash.get(f"/runs/{run_id}").text
    assert '<div id="run-live" data-run-status="QUEUED"' in page
    assert '<section class="card" id="reschedule" data-while-status="DELAYED QUEUED">' in page

    engine.cancel("dev", run_id)  # the run finishes while its page is open
    late = post(dash, f"/runs/{run_id}/reschedule", delay="10m", back=f"/runs/{run_id}")
    assert late.status_code == 303 and late.headers["location"] == f"/runs/{run_id}"
    assert flash(dash, f"/runs/{run_id}") == (
        f"error: Run {run_id} is already CANCELED: only delayed or queued runs can be "
        "rescheduled.")
    assert engine.retrieve("dev", run_id)["status"] == "CANCELED"
    page = dash.get(f"/runs/{run_id}").text
    assert 'id="reschedule"' not in page and "Cancel run" not in page
    post(dash, f"/runs/{run_id}/cancel", back=f"/runs/{run_id}")
    assert "already CANCELED" in flash(dash, f"/runs/{run_id}")


def test_a_live_refresh_leaves_the_message_to_the_page_it_belongs_to(
    dash: Any, engine: Engine
) -> None:
    """Canceling a live run changes it, so its old page refreshes while the browser loads
    the new one: that refresh must not take the "Canceled" message on its way."""
    run_id = trigger_run(engine, "hello-world", {}).row["id"]
    post(dash, f"/runs/{run_id}/cancel", back=f"/runs/{run_id}")
    refreshed = dash.get(f"/runs/{run_id}", headers={"HX-Request": "true"})
    assert refreshed.status_code == 200 and "flash" not in refreshed.text
    assert flash(dash, f"/runs/{run_id}") == f"ok: Canceled {run_id}."
