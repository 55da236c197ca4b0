"""The Versions page, a parked run's page and the runs list's version filter, through
Starlette's TestClient on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.sdk.client import Client
from outlast.sdk.transports import LocalTransport
from tests.conftest import trigger_run
from tests.dashboard.conftest import DEV_KEY
from tests.dashboard.test_pages import flash, post
from tests.versions.support import add_version, live_worker, pin

MISMATCH = {"type": "NonDeterminismError", "message": "replay mismatch", "seq": 2,
            "recorded": {"kind": "step", "name": "charge"},
            "called": {"kind": "step", "name": "charge-card"}}


def text(response: Any) -> str:
    return html.unescape(response.text)


def row(page: str, version: str) -> str:
    """The table row of ``version`` on the Versions page."""
    match = re.search(rf'<tr id="version-{re.escape(version)}".*?</tr>', page, re.S)
    assert match, f"no row for {version}"
    return match.group(0)


def pinned_run(engine: Engine, version: str, **options: Any) -> str:
    run_id = str(trigger_run(engine, "hello-world", **options).row["id"])
    pin(engine, run_id, version)
    return run_id


def parked_run(engine: Engine, version: str | None = None) -> str:
    """A run whose attempt met a replay mismatch, as a worker records it."""
    run_id = str(trigger_run(engine, "hello-world", {"name": "Ada"}).row["id"])
    claimed = [r for r in engine.claim("dev", "worker-1", ["hello-world"], 10)
               if r["id"] == run_id]
    assert claimed, "the run was not claimed"
    decided = engine.record([Outcome(run_id, claimed[0]["lease_id"],
                                     claimed[0]["attempt_count"], "parked", error=MISMATCH)])
    assert decided[0] is not None and decided[0].transition == "park"
    if version is not None:
        pin(engine, run_id, version)
    return run_id


# -- the Versions page -----------------------------------------------------------------------


def test_no_versions_says_how_versions_appear(dash: Any) -> None:
    page = text(dash.get("/versions"))
    assert "No versions yet" in page
    assert "outlast worker" in page and "outlast deploy" in page
    assert 'href="/versions"' in page  # in the sidebar, beside Workers


def test_each_version_with_its_state_tasks_workers_and_pinned_runs(
        dash: Any, engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["hello-world", "typed"])
    queued = [pinned_run(engine, "v1") for _ in range(2)]
    pinned_run(engine, "v1", delay="1h")
    clock.advance(60)
    add_version(engine, "v2", ["hello-world"], source="deploy")
    live_worker(engine, "w2", "v2")

    page = text(dash.get("/versions"))
    old, new = row(page, "v1"), row(page, "v2")
    assert "draining" in old and "current" in new
    assert "2 tasks" in old and "/tasks/typed" in old and "1 task<" in new
    assert ">deploy<" in new and ">worker<" in old
    assert 'href="/?version=v1&status=QUEUED"' in old and "<strong>2</strong>" in old
    assert 'href="/?version=v1&status=DELAYED"' in old
    assert 'href="/?version=v1" title="Every run pinned to v1"' in old
    assert re.search(r'class="num workers"><a href="/workers">1</a>', new)
    assert "safe to stop" not in old
    # retire is refused while runs need v1, and for the current version: disabled, with why
    assert "Cannot retire: version v1 still has 3 unfinished runs pinned to it" in old
    assert "3 runs still need it" in old and "/versions/v1/retire" not in old
    assert "Cannot retire: version v2 is current" in new and "/versions/v2/retire" not in new
    assert "/versions/v1/promote" in old and "/versions/v2/promote" not in new

    for run_id in queued + [r["id"] for r in engine.list_runs("dev", status=["DELAYED"])[0]]:
        engine.cancel("dev", run_id)
    drained = row(text(dash.get("/versions")), "v1")
    assert "safe to stop" in drained and "none" in drained
    assert "/versions/v1/retire" in drained and "Cannot retire" not in drained


def test_promote_and_retire_with_their_refusal(dash: Any, engine: Engine,
                                               clock: FakeClock) -> None:
    add_version(engine, "v1", ["hello-world"])
    run_id = pinned_run(engine, "v1")
    clock.advance(60)
    add_version(engine, "v2", ["hello-world"])

    refused = post(dash, "/versions/v1/retire", back="/versions")
    assert refused.status_code == 303 and refused.headers["location"] == "/versions"
    assert "error: cannot retire: version v1 still has 1 unfinished run" in flash(
        dash, "/versions")
    assert engine.get_version("dev", "v1")["state"] == "draining"

    engine.cancel("dev", run_id)
    assert post(dash, "/versions/v1/retire", back="/versions").status_code == 303
    assert "Retired version v1" in flash(dash, "/versions")
    assert engine.get_version("dev", "v1")["state"] == "retired"
    assert "retired" in row(text(dash.get("/versions")), "v1")

    assert post(dash, "/versions/v1/promote", back="/versions").status_code == 303
    said = html.unescape(flash(dash, "/versions"))
    assert "ok: Version v1 is current: new runs go to it; v2 is draining" in said
    states = {v["version"]: v["state"] for v in engine.list_versions("dev")}
    assert states == {"v1": "current", "v2": "draining"}

    post(dash, "/versions/nope/promote", back="/versions")
    assert "no version 'nope'" in html.unescape(flash(dash, "/versions"))


def test_actions_need_the_forms_csrf_token(dash: Any, engine: Engine) -> None:
    add_version(engine, "v1", ["hello-world"])
    assert dash.post("/versions/v1/retire", data={"csrf": "forged"}).status_code == 403
    assert engine.get_version("dev", "v1")["state"] == "current"


# -- the runs list's version filter ------------------------------------------------------------


def test_runs_list_filters_by_version_in_the_page_the_api_and_the_client(
        dash: Any, engine: Engine) -> None:
    add_version(engine, "v1", ["hello-world"])
    add_version(engine, "v2", ["hello-world"])
    on_v1, on_v2 = pinned_run(engine, "v1"), pinned_run(engine, "v2")
    unpinned = str(trigger_run(engine, "hello-world").row["id"])

    page = dash.get("/?version=v1").text
    assert on_v1 in page and on_v2 not in page and unpinned not in page
    assert '<option value="v1" selected>' in page
    both = dash.get("/").text
    assert all(r in both for r in (on_v1, on_v2, unpinned))

    api = dash.get("/api/v1/runs", params={"version": "v2"},
                   headers={"Authorization": f"Bearer {DEV_KEY}"}).json()["data"]
    assert [r["id"] for r in api] == [on_v2]
    client = Client(transport=LocalTransport(engine, "dev"))
    assert [r.id for r in client.runs.list(version="v1")] == [on_v1]
    assert [r.id for r in client.runs.list(version="v3")] == []


# -- a parked run's page ---------------------------------------------------------------------


def test_a_parked_run_shows_what_needs_attention_and_where_it_can_go(
        dash: Any, engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["hello-world"])
    add_version(engine, "v2", ["hello-world", "typed"])
    add_version(engine, "v3", ["typed"])  # no hello-world: not a place to move to
    run_id = parked_run(engine, "v1")

    page = text(dash.get(f"/runs/{run_id}"))
    panel = page.split('id="needs-attention"')[1].split("</section>")[0]
    assert "Needs attention" in page and page.index("needs-attention") < page.index("facts")
    assert "#2" in panel and "<code>step charge</code>" in panel
    assert "<code>step charge-card</code>" in panel
    assert f"run {run_id} is parked" in panel
    options = re.findall(r'<option value="([^"]+)"', panel)
    assert options == ["v2"]  # has the task, is not its own
    assert f'action="/runs/{run_id}/resume"' in panel and 'name="csrf"' in panel
    assert 'href="/versions#version-v1"' in page  # its version, in the summary
    assert "[outlastIdle()]" in page  # an open confirmation is not refreshed away

    overview = dash.get("/overview").text
    assert 'class="stat card attention" id="parked-count"' in overview
    assert 'href="/?status=PARKED"' in overview
    assert run_id in dash.get("/?status=PARKED").text


def test_resume_queues_a_parked_run(dash: Any, engine: Engine) -> None:
    run_id = parked_run(engine)
    response = post(dash, f"/runs/{run_id}/resume", back=f"/runs/{run_id}")
    assert response.status_code == 303 and response.headers["location"] == f"/runs/{run_id}"
    assert engine.retrieve("dev", run_id)["status"] == "QUEUED"
    page = text(dash.get(f"/runs/{run_id}"))
    assert "queued to replay its history" in page and "Needs attention" not in page

    again = post(dash, f"/runs/{run_id}/resume", back=f"/runs/{run_id}")
    assert again.status_code == 409  # shown on the page, not lost in a redirect
    assert "QUEUED, not PARKED: only a parked run can be resumed" in text(again)


def test_move_pins_a_parked_run_to_another_version(dash: Any, engine: Engine) -> None:
    add_version(engine, "v1", ["hello-world"])
    add_version(engine, "v2", ["hello-world"])
    run_id = parked_run(engine, "v1")

    missing = post(dash, f"/runs/{run_id}/move", version="")
    assert missing.status_code == 400
    assert re.search(r'id="move-error">Choose the version', missing.text)
    bad = post(dash, f"/runs/{run_id}/move", version="no spaces")
    assert bad.status_code == 400 and "is not a version name" in text(bad)
    assert "Needs attention" in bad.text and engine.retrieve("dev", run_id)["status"] == "PARKED"

    moved = post(dash, f"/runs/{run_id}/move", version="v2")
    assert moved.status_code == 303
    run = engine.retrieve("dev", run_id)
    assert (run["status"], run["version"]) == ("QUEUED", "v2")
    assert "Moved" in flash(dash, f"/runs/{run_id}")


def test_a_parked_run_with_nowhere_to_move(dash: Any, engine: Engine) -> None:
    add_version(engine, "v1", ["hello-world"])
    run_id = parked_run(engine, "v1")
    page = text(dash.get(f"/runs/{run_id}"))
    assert "No other version has task hello-world" in page
    assert f'action="/runs/{run_id}/move"' not in page


# -- waiting for a worker ---------------------------------------------------------------------


def test_a_queued_run_says_which_worker_it_waits_for(dash: Any, engine: Engine) -> None:
    add_version(engine, "v1", ["hello-world"])
    add_version(engine, "v2", ["hello-world"])
    live_worker(engine, "w2", "v2")
    stuck = pinned_run(engine, "v1")  # no worker of v1 is live
    page = text(dash.get(f"/runs/{stuck}"))
    assert "Waiting for a worker of version v1" in page
    assert page.index('id="waiting-for"') < page.index("facts")

    taken = str(trigger_run(engine, "hello-world").row["id"])  # v2's live worker can
    assert engine.retrieve("dev", taken)["waiting_for"] is None
    assert 'id="waiting-for"' not in dash.get(f"/runs/{taken}").text
    engine.cancel("dev", stuck)
    assert 'id="waiting-for"' not in dash.get(f"/runs/{stuck}").text  # only QUEUED runs wait
