"""The run page's trace and its waiting panel through Starlette's TestClient, on SQLite
and PostgreSQL: spans by name, what a waiting run waits for, and the actions on it (skip
a sleep, approve a token); the same tree over the HTTP API."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from outlast.clock import FakeClock
from outlast.core.durable_requests import Op
from outlast.engine import Engine, Outcome
from outlast.engine.triggering import Triggered
from tests.dashboard.support import DEV_KEY
from tests.dashboard.test_pages import flash, post


def start(engine: Engine, run_id: str) -> dict[str, Any]:
    [row] = engine.claim("dev", "w1", None, 1)
    assert row["id"] == run_id
    return row


def suspend(engine: Engine, row: dict[str, Any]) -> None:
    engine.record([Outcome(run_id=row["id"], lease_id=row["lease_id"], attempt=1,
                           kind="suspended", executed=0.1)])


def op(row: dict[str, Any], seq: int, kind: str, name: str) -> Op:
    return Op(row["id"], row["lease_id"], seq, kind, name)


def spans(page: str) -> list[str]:
    return re.findall(r'class="trace-title">([^<]*)<', page)


def test_a_waiting_run_shows_its_trace_and_what_it_waits_for(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered], clock: FakeClock
) -> None:
    run_id = trigger(engine, "hello-world", {"name": "Ada"}).row["id"]
    row = start(engine, run_id)
    clock.advance(0.5)
    engine.durable.record(op(row, 0, "step", "charge-card"), "ch_1", elapsed=0.25)
    engine.append_logs([{"run_id": run_id, "lease_id": row["lease_id"], "attempt": 1,
                         "at": clock.now(), "level": "INFO", "message": "charged <card>",
                         "attributes": '{"user": 17}'}])
    assert engine.durable.sleep_until(op(row, 1, "sleep", "sleep"), clock.now() + 60) == {
        "done": False}
    suspend(engine, row)

    page = dash.get(f"/runs/{run_id}").text
    assert spans(page) == ["hello-world", "attempt 1", "step charge-card", "charged &lt;card&gt;",
                           "wait.sleep"]
    assert 'id="waiting"' in page and "Skip wait" in page
    assert f'action="/runs/{run_id}/skip-wait" data-confirm=' in page
    cancel = page[page.index(f'action="/runs/{run_id}/cancel"'):]
    assert 'data-confirm="Cancel this' in cancel[:cancel.index("</form>")]
    assert "&#34;ch_1&#34;" in page or "&quot;ch_1&quot;" in page  # the step's output
    assert "&amp;mark=" in page  # the live stream also follows the trace

    # skip the sleep: the run goes on at once
    response = post(dash, f"/runs/{run_id}/skip-wait", back=f"/runs/{run_id}")
    assert response.status_code == 303
    assert engine.retrieve("dev", run_id)["status"] == "QUEUED"
    assert "Skipped the wait" in flash(dash, f"/runs/{run_id}")
    post(dash, f"/runs/{run_id}/skip-wait", back=f"/runs/{run_id}")
    assert "no wait to skip" in flash(dash, f"/runs/{run_id}")

    # then a token: approve it from the run page
    clock.advance(1)
    row = start(engine, run_id)
    token = engine.durable.create_token(op(row, 2, "create_token", "token"), 3600.0, [], None)
    token_id = token["result"]["id"]
    engine.durable.wait_for_token(op(row, 3, "wait_token", token_id), token_id)
    suspend(engine, row)
    page = dash.get(f"/runs/{run_id}").text
    assert spans(page)[-3:] == ["attempt 1", "wait.create_token", "wait.for_token"]
    assert f'action="/tokens/{token_id}/complete"' in page and "Approve" in page
    assert "Skip wait" not in page
    post(dash, f"/tokens/{token_id}/complete", decision="approve", back=f"/runs/{run_id}")
    assert engine.retrieve("dev", run_id)["status"] == "QUEUED"
    page = dash.get(f"/runs/{run_id}").text
    assert 'id="waiting"' not in page
    assert "approved" in page  # the wait's output, in its details


def test_child_runs_are_spans_under_the_trigger(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered]
) -> None:
    from outlast.core.options import parse_options
    from outlast.engine import NewRun

    run_id = trigger(engine, "hello-world", {}).row["id"]
    row = start(engine, run_id)
    request = NewRun("typed", '{"name": "kid"}', parse_options({}, 0))
    answer = engine.durable.trigger(op(row, 0, "trigger_wait", "typed"), "dev", [request],
                                    wait=True, batch=False)
    [child_id] = answer["ids"]
    suspend(engine, row)
    page = dash.get(f"/runs/{run_id}").text
    assert spans(page) == ["hello-world", "attempt 1", "trigger_and_wait typed", "typed"]
    assert f'href="/runs/{child_id}"' in page and "Child run" in page


def test_the_trace_over_http(dash: Any, engine: Engine, trigger: Callable[..., Triggered],
                             clock: FakeClock) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    row = start(engine, run_id)
    engine.durable.sleep_until(op(row, 0, "sleep", "sleep"), clock.now() + 60)
    suspend(engine, row)
    auth = {"Authorization": f"Bearer {DEV_KEY}"}
    body = dash.get(f"/api/v1/runs/{run_id}/trace", headers=auth).json()
    [attempt] = body["root"]["children"]
    assert (body["root"]["name"], attempt["name"], attempt["children"][0]["name"]) == (
        "hello-world", "attempt 1", "wait.sleep")
    assert body["waiting"] == [{"kind": "sleep", "span_id": "op-0", "until": clock.now() + 60,
                                "token_id": None, "children": []}]
    skipped = dash.post(f"/api/v1/runs/{run_id}/skip-wait", headers=auth)
    assert skipped.status_code == 200 and skipped.json()["status"] == "QUEUED"
    again = dash.post(f"/api/v1/runs/{run_id}/skip-wait", headers=auth)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert dash.get("/api/v1/runs/run_nope/trace", headers=auth).status_code == 404


def test_a_run_with_many_log_lines_shows_the_first_ones_and_links_to_all(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered], clock: FakeClock
) -> None:
    run_id = trigger(engine, "hello-world", {"name": "Ada"}).row["id"]
    row = start(engine, run_id)
    engine.append_logs([{"run_id": run_id, "lease_id": row["lease_id"], "attempt": 1,
                         "at": clock.now() + i * 0.01, "level": "INFO",
                         "message": f"line {i}", "attributes": "{}"} for i in range(250)])

    page = dash.get(f"/runs/{run_id}").text
    assert len(spans(page)) == 100  # the run, its attempt and the first 98 lines
    assert "Showing the first 100 of 252 spans" in page and 'href="?spans=all#trace"' in page
    assert page.count('<tr class="log-info">') == 100
    assert "Showing the first 100 of 250 lines" in page and "Show all 250" in page

    everything = dash.get(f"/runs/{run_id}?spans=all&logs=all").text
    assert spans(everything)[-1] == "line 249" and len(spans(everything)) == 252
    assert everything.count('<tr class="log-info">') == 250
    assert "Showing the first" not in everything
