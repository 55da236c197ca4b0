"""The runs list page (``/``): one search box, filters and sorts in the URL, keyset pages,
and the payload search's window said on the page; on both stores."""

from __future__ import annotations

import html
import re
import time
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, listing


def new_run(engine: Engine, task: str, payload: str = "{}", **options: Any) -> str:
    run_id = str(engine.trigger("dev", NewRun(task, payload, TriggerOptions(**options)))
                 .row["id"])
    time.sleep(0.002)  # ids sort by the wall clock's millisecond: one each
    return run_id


def shown(page: str) -> list[str]:
    return re.findall(r'<tr data-run-id="([^"]+)"', page)


@pytest.fixture
def runs(engine: Engine, dash_tasks: list[str], clock: FakeClock) -> dict[str, str]:
    made = {"ada": new_run(engine, "hello-world", '{"name": "Ada"}', tags=["user:17"],
                           idempotency_key="signup-ada")}
    clock.advance(30)
    made["bob"] = new_run(engine, "typed", '{"name": "Bob"}', idempotency_key="signup-bob")
    clock.advance(30)
    made["cy"] = new_run(engine, "typed", '{"name": "Cy"}', tags=["user:18"])
    engine.cancel("dev", made["cy"])
    return made


def test_one_box_searches_ids_keys_tags_and_payloads(dash: Any, runs: dict[str, str]) -> None:
    page = dash.get("/").text
    assert 'placeholder="Run id prefix, idempotency key, tag or payload text"' in page
    assert "id starts with" in page and "payload contains" in page  # the help says how
    assert shown(dash.get("/", params={"q": runs["bob"][:-5]}).text) == [runs["bob"]]
    assert shown(dash.get("/", params={"q": "signup-"}).text) == [runs["bob"], runs["ada"]]
    assert shown(dash.get("/", params={"q": "user:18"}).text) == [runs["cy"]]
    assert shown(dash.get("/", params={"q": "ada"}).text) == [runs["ada"]]  # payload, any case
    found = dash.get("/", params={"q": "nobody-at-all"}).text
    assert shown(found) == [] and "No runs match" in found


def test_filters_and_sort_live_in_the_url(dash: Any, runs: dict[str, str]) -> None:
    assert shown(dash.get("/?queue=emails").text) == [runs["cy"], runs["bob"]]
    assert shown(dash.get("/?queue=emails&status=QUEUED").text) == [runs["bob"]]
    assert shown(dash.get("/?status=CANCELED&status=QUEUED&task=typed").text) == [
        runs["cy"], runs["bob"]]
    page = dash.get("/?sort=finished").text
    assert shown(page) == [runs["cy"]]
    assert "Last finished first" in page and "lists only runs that have finished" in page
    assert '<option value="finished" selected>' in page
    assert '<option value="emails" selected>' in dash.get("/?queue=emails").text


def test_pages_keep_the_filters_and_follow_the_cursor(
    dash: Any, engine: Engine, dash_tasks: list[str]
) -> None:
    made = [new_run(engine, "typed", f'{{"name": "n{i}"}}') for i in range(53)]
    first = dash.get("/?queue=emails&sort=created").text
    older = re.search(r'href="/\?([^"]*cursor=[^"]+)" rel="next"', first)
    assert older and "queue=emails" in html.unescape(older.group(1))
    second = dash.get("/?" + html.unescape(older.group(1))).text
    assert shown(first) + shown(second) == made[::-1]


def test_payload_text_is_searched_a_window_at_a_time(
    dash: Any, engine: Engine, dash_tasks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "SEARCH_WINDOW", 2)
    needle = new_run(engine, "typed", '{"name": "needle"}')
    for i in range(3):
        new_run(engine, "typed", f'{{"name": "hay {i}"}}')
    first = dash.get("/?q=needle").text
    assert shown(first) == [] and "No match in the runs searched so far" in first
    older = re.search(r'href="/\?([^"]*cursor=[^"]+)">Search older runs', first)
    assert older
    assert shown(dash.get("/?" + html.unescape(older.group(1))).text) == [needle]


def test_a_bad_time_is_said_on_the_page(dash: Any, runs: dict[str, str]) -> None:
    r = dash.get("/?from=yesterday")
    assert r.status_code == 200
    assert "expected a time like" in r.text
