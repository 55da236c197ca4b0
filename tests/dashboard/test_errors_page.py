"""The Errors page and one group's page, through Starlette's TestClient on SQLite and
PostgreSQL with the fake clock: what groups, what does not, counts by window, and the way
from a group to its runs."""

from __future__ import annotations

import html
import re
from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine
from tests.errors.support import attempt, error, fail_run, retry_due


def text(response: Any) -> str:
    assert response.status_code == 200, response.text
    return html.unescape(response.text)


def rows(page: str) -> dict[str, str]:
    """The groups' table rows by fingerprint."""
    return dict(re.findall(r'<tr id="group-(\w+)".*?>(.*?)</tr>', page, re.S))


def test_groups_with_counts_links_and_the_nav_entry(dash: Any, engine: Engine,
                                                    clock: FakeClock) -> None:
    first = fail_run(engine, "hello-world", "order 42 not found", max_attempts=1)
    clock.advance(5)
    fail_run(engine, "hello-world", "order 7 not found")
    fail_run(engine, "typed", "order 7 not found")
    clock.advance(60)

    page = text(dash.get("/errors"))
    assert '<a href="/errors" class="active" aria-current="page">Errors</a>' in page
    found = rows(page)
    assert len(found) == 2
    (hello,) = [r for r in found.values() if "/tasks/hello-world" in r]
    assert "ValueError" in hello and "order 7 not found" in hello  # the newest message
    assert re.search(r'class="runs-link" href="/\?error=\w{16}".*?<strong>2</strong>', hello,
                     re.S)
    assert '<span class="chip tone-red">1</span>' in hello  # one run failed for good
    assert "<svg class=\"sparkline\"" in hello and "2 failed attempts over time" in hello
    assert "3 failed attempts · 1 run failed for good · last 24h" in page.replace(
        "<strong>", "").replace("</strong>", "")
    fingerprint = next(fp for fp, r in found.items() if r is hello)

    # the group's runs, through the runs list's filter
    runs = text(dash.get(f"/?error={fingerprint}"))
    assert first in runs and f"error group {fingerprint}" in runs
    assert len(set(re.findall(r'<tr data-run-id="(run_\w+)"', runs))) == 2


def test_a_task_filter_and_windows(dash: Any, engine: Engine, clock: FakeClock) -> None:
    fail_run(engine, "hello-world", "disk full")
    fail_run(engine, "typed", "bad input")
    clock.advance(2 * 3600)

    assert len(rows(text(dash.get("/errors?window=24h")))) == 2
    only = text(dash.get("/errors?task=typed"))
    assert len(rows(only)) == 1 and "bad input" in only
    assert '<option value="typed" selected>' in only
    empty = text(dash.get("/errors?window=1h"))
    assert rows(empty) == {} and "No errors in the last 1h" in empty
    assert 'aria-current="true">1h<' in empty
    # an unknown window is the default one, not an error page
    assert 'aria-current="true">24h<' in text(dash.get("/errors?window=forever"))


def test_a_group_page_with_occurrences_and_a_stack(dash: Any, engine: Engine,
                                                   clock: FakeClock) -> None:
    run_id = fail_run(engine, "hello-world", "timeout after 30 s calling 'payments'")
    retry_due(clock)
    attempt(engine, "failed", error=error("timeout after 31 s calling 'payments'"))
    retry_due(clock)
    attempt(engine, "completed", output=1)
    fingerprint = engine.errors.list("dev")[0]["fingerprint"]

    page = text(dash.get(f"/errors/{fingerprint}"))
    assert "timeout after <n> s calling <str>" in page
    assert "Traceback (most recent call last)" in page
    assert page.count(f'href="/runs/{run_id}"') == 2  # both failed attempts of the run
    assert "#1" in page and "#2" in page and "retried" in page and "completed" in page
    assert f'href="/?error={fingerprint}"' in page
    assert dash.get("/errors/0123456789abcdef").status_code == 404
    assert dash.get("/errors/not-a-fingerprint").status_code == 404


def test_the_page_asks_for_a_key_outside_dev(anonymous: Any) -> None:
    answer = anonymous.get("/errors")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
