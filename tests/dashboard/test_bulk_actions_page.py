"""The runs list's "Cancel all matching (N)" and the Bulk actions page, on both stores."""

from __future__ import annotations

import re
from typing import Any

from outlast.engine import Engine, bulk_work
from tests.conftest import trigger_run
from tests.dashboard.test_pages import csrf_of, flash

BUTTON = re.compile(r"Cancel all matching \(([\d,+]+)\)")


def test_the_button_counts_every_run_the_filters_list(dash: Any, engine: Engine) -> None:
    for _ in range(60):  # more than one page of the list
        trigger_run(engine, "hello-world")
    trigger_run(engine, "typed", {"name": "x"})
    page = dash.get("/?task=hello-world")
    assert BUTTON.search(page.text).group(1) == "60"  # type: ignore[union-attr]
    assert 'data-confirm="Cancel all 60 runs' in page.text
    assert 'href="/bulk-actions"' in page.text


def test_no_button_without_a_filter_or_with_only_final_statuses(
        dash: Any, engine: Engine) -> None:
    trigger_run(engine, "hello-world")
    assert not BUTTON.search(dash.get("/").text)
    assert not BUTTON.search(dash.get("/?status=COMPLETED&status=FAILED").text)
    assert not BUTTON.search(dash.get("/?task=typed").text)  # none match


def test_cancel_all_matching_then_follow_it(dash: Any, engine: Engine) -> None:
    mine = [trigger_run(engine, "hello-world", tags=["wave"]).row["id"] for _ in range(3)]
    other = trigger_run(engine, "typed", {"name": "x"}, tags=["wave"]).row["id"]
    r = dash.post("/bulk-actions?task=hello-world&tag=wave", data={"csrf": csrf_of(dash)})
    assert r.status_code == 303 and r.headers["location"].startswith("/bulk-actions#bulk_")
    page = dash.get("/bulk-actions").text
    assert "task hello-world, tag wave" in page and 'data-status="PENDING"' in page
    assert "Abort" in page and 'hx-get="/bulk-actions"' in page  # live while it runs
    bulk_work.run_to_end(engine)
    page = dash.get("/bulk-actions").text
    assert 'data-status="COMPLETED"' in page and "3 / 3" in page
    assert "hx-get" not in page  # nothing runs: no refresh
    assert {engine.retrieve("dev", r)["status"] for r in mine} == {"CANCELED"}
    assert engine.retrieve("dev", other)["status"] == "QUEUED"


def test_abort_from_the_page(dash: Any, engine: Engine) -> None:
    trigger_run(engine, "hello-world")
    action = engine.bulk.create("dev", "cancel", wanted={"task": "hello-world"})
    r = dash.post(f"/bulk-actions/{action['id']}/abort", data={"csrf": csrf_of(dash)})
    assert r.status_code == 303
    assert "is aborted after 0 of 0 runs" in flash(dash, "/bulk-actions")
    assert engine.bulk.get("dev", action["id"])["status"] == "ABORTED"


def test_without_a_filter_nothing_is_created(dash: Any, engine: Engine) -> None:
    r = dash.post("/bulk-actions", data={"csrf": csrf_of(dash)})
    assert r.status_code == 303
    assert "Filter the runs first" in flash(dash, "/")
    assert engine.bulk.list("dev") == ([], None)
    assert "No bulk actions yet" in dash.get("/bulk-actions").text


def test_past_a_thousand_the_button_says_so(dash: Any, engine: Engine,
                                            monkeypatch: Any) -> None:
    from outlast.server.dashboard import bulk_actions

    monkeypatch.setattr(bulk_actions, "COUNT_AT_MOST", 3)
    for _ in range(4):
        trigger_run(engine, "hello-world")
    assert BUTTON.search(dash.get("/?task=hello-world").text).group(1) == "3+"  # type: ignore[union-attr]
    trigger_run(engine, "typed", {"name": "x"})
    assert BUTTON.search(dash.get("/?task=typed").text).group(1) == "1"  # type: ignore[union-attr]
    refresh = dash.get("/?task=hello-world", headers={"HX-Request": "true"})
    assert not BUTTON.search(refresh.text)  # the live refresh swaps the table only
