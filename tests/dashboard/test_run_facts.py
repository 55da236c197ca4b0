"""The run page's facts and Metadata card, through Starlette's TestClient on both stores:
the numbers agree with the API's, and metadata writes are a history, not timeline rows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.engine.durable import Op
from outlast.engine.triggering import Triggered


def fact(page: str, name: str) -> str:
    match = re.search(rf'id="fact-{name}">(.*?)</dd>', page, re.S)
    assert match, f"no {name} fact on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_a_suspended_run_counts_its_attempt_and_shows_waiting_apart(
        dash: Any, engine: Engine, clock: FakeClock,
        trigger: Callable[..., Triggered]) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    [row] = engine.claim("dev", "w1", None, 1)
    clock.advance(8)
    engine.durable.sleep_until(Op(run_id, row["lease_id"], 1, "sleep", "nap"),
                               clock.now() + 600)
    engine.record([Outcome(run_id, row["lease_id"], 1, "suspended", executed=8.0)])
    clock.advance(120)
    page = dash.get(f"/runs/{run_id}").text
    assert fact(page, "attempts") == "1 of 3"
    assert fact(page, "duration") == "8 s"
    assert fact(page, "waiting") == "2m 00s so far"
    assert fact(page, "queued") == "0 ms"
    run = engine.retrieve("dev", run_id)
    assert (run["attempts"], run["duration"], run["waiting_duration"]) == (1, 8.0, 120.0)


def test_a_run_canceled_after_two_minutes_shows_its_work_and_cost(
        dash: Any, engine: Engine, clock: FakeClock,
        trigger: Callable[..., Triggered]) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    engine.claim("dev", "w1", None, 1)
    clock.advance(120)
    page = dash.get(f"/runs/{run_id}").text
    assert fact(page, "duration") == "2m 00s so far"  # live, before the cancel
    engine.cancel("dev", run_id)
    page = dash.get(f"/runs/{run_id}").text
    assert fact(page, "duration") == "2m 00s" and fact(page, "cost") == "$0.002028"
    listed = dash.get("/").text
    assert "2m 00s" in listed and "$0.002028" in listed  # the runs list agrees


def test_many_metadata_writes_are_the_metadata_history_not_timeline_rows(
        dash: Any, engine: Engine, trigger: Callable[..., Triggered]) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    engine.metadata.update("dev", run_id, [{"op": "set", "key": "stage", "value": "load"}])
    for _ in range(500):
        engine.metadata.update("dev", run_id, [{"op": "increment", "key": "done",
                                                "value": 1}])
    engine.metadata.update("dev", run_id, [{"op": "set", "key": "stage", "value": "save"},
                                           {"op": "delete", "key": "done"}])
    page = dash.get(f"/runs/{run_id}").text
    # the trace holds what the run did: a few spans, none for 502 metadata writes
    assert 0 < page.count('class="trace-row') < 10
    assert "latest 50 of 502, newest first" in page
    history = page[page.index('class="md-history"'):]
    assert history.count("<li>") == 50
    newest = history[:history.index("</li>")]
    assert "&#34;load&#34;</span> → <span class=\"md-new\">&#34;save&#34;" in newest \
        or "&quot;load&quot;</span> → <span class=\"md-new\">&quot;save&quot;" in newest
    assert "deleted" in newest and "(was 500)" in newest and "API" in newest
    assert "+1 <span class=\"muted\">(499 → 500)</span>" in history
