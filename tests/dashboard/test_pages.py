"""Dashboard pages through Starlette's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import Triggered

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(client: Any, path: str = "/") -> str:
    match = CSRF.search(client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post(client: Any, path: str, **form: Any) -> Any:
    form.setdefault("csrf", csrf_of(client))
    return client.post(path, data=form)


def flash(client: Any, path: str) -> str:
    match = re.search(r'class="flash flash-(\w+)"[^>]*>([^<]*)<', client.get(path).text)
    return f"{match.group(1)}: {match.group(2)}" if match else ""


# -- empty states and navigation -----------------------------------------------------------


@pytest.mark.parametrize(("path", "hint"), [
    ("/", "outlast trigger hello-world"),
    ("/workers", "outlast worker"),
    ("/overview", "No runs in the last hour"),
])
def test_every_empty_page_tells_a_newcomer_what_to_do(dash: Any, path: str, hint: str) -> None:
    page = dash.get(path)
    assert page.status_code == 200
    assert hint in page.text.replace("&#39;", "'")


def test_empty_task_and_queue_pages(engine: Engine) -> None:
    from starlette.testclient import TestClient

    from outlast.server.app import create_app

    with TestClient(create_app(engine, dev_api_key="k", scheduler=False)) as client:
        assert "outlast dev" in client.get("/tasks").text
        assert "No queues yet" in client.get("/queues").text


def test_nav_links_only_to_pages_that_exist(dash: Any, engine: Engine) -> None:
    from outlast.server.dashboard import web

    page = dash.get("/").text
    links = set(re.findall(r'<nav>(.*?)</nav>', page, re.S)[0].split('href="')[1:])
    for link in links:
        assert dash.get(link.split('"')[0]).status_code == 200
    assert len(links) == 9
    assert {p for p, _, _ in web.NAV} >= {"/schedules", "/tokens"}


def test_api_and_health_keep_their_json_answers(dash: Any) -> None:
    missing = dash.get("/api/v1/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert dash.delete("/api/v1/runs").status_code == 405
    assert dash.get("/healthz").json() == {"status": "ok"}
    assert dash.get("/no/such/page").status_code == 404
    assert dash.get("/static/htmx.min.js").status_code == 200


# -- runs list --------------------------------------------------------------------------------


def test_runs_list_shows_runs_and_filters_in_the_url(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered], clock: FakeClock
) -> None:
    old = trigger(engine, "hello-world", {"name": "old"}, tags=["user:1"]).row["id"]
    clock.advance(7200)
    new = trigger(engine, "typed", {"name": "Ada"}, tags=["user:2"]).row["id"]
    engine.cancel("dev", old)

    page = dash.get("/").text
    assert old in page and new in page and "user:2" in page
    assert new in dash.get("/?task=typed").text and old not in dash.get("/?task=typed").text
    assert old in dash.get("/?tag=user:1").text and new not in dash.get("/?tag=user:1").text
    only_canceled = dash.get("/?status=CANCELED").text
    assert old in only_canceled and new not in only_canceled
    assert old not in dash.get("/?period=1h").text
    assert new in dash.get(f"/?q={new}").text and old not in dash.get(f"/?q={new}").text
    assert "No runs match" in dash.get("/?q=run_missing").text
    assert "expected a time" in dash.get("/?from=yesterday").text


def test_runs_list_pages_with_a_cursor(dash: Any, engine: Engine) -> None:
    now = engine.clock.now()
    engine.trigger_batch("dev", [NewRun("hello-world", json.dumps(i), parse_options({}, now))
                                 for i in range(55)])
    first = dash.get("/").text
    cursor = re.search(r'href="/\?cursor=([^"]+)"', first)
    assert cursor, "no link to older runs"
    older = dash.get(f"/?cursor={cursor.group(1)}").text
    assert older.count('class="run-select"') == 5
    assert "hx-trigger" not in older.split('id="runs-live"')[1][:40]  # older pages stay put


def test_bulk_cancel_and_replay(dash: Any, engine: Engine,
                                trigger: Callable[..., Triggered]) -> None:
    ids = [trigger(engine, "hello-world", {"n": i}).row["id"] for i in range(3)]
    response = post(dash, "/runs/bulk", action="cancel", ids=ids[:2], back="/?task=hello-world")
    assert response.status_code == 303 and response.headers["location"] == "/?task=hello-world"
    statuses = [engine.retrieve("dev", i)["status"] for i in ids]
    assert statuses == ["CANCELED", "CANCELED", "QUEUED"]
    assert "Canceled 2 runs." in flash(dash, "/")

    post(dash, "/runs/bulk", action="cancel", ids=ids, back="/")
    assert "Canceled 1 run. Skipped 2" in flash(dash, "/")
    post(dash, "/runs/bulk", action="replay", ids=ids[:2], back="/")
    assert "Replayed 2 runs." in flash(dash, "/")
    replays, _ = engine.list_runs("dev", status=["QUEUED"])
    assert sorted(r["replayed_from"] for r in replays if r["replayed_from"]) == sorted(ids[:2])


def test_bulk_without_a_selection_explains(dash: Any) -> None:
    post(dash, "/runs/bulk", action="cancel", back="/")
    assert "Select runs first" in flash(dash, "/")


# -- run detail --------------------------------------------------------------------------------


def test_run_page_shows_everything_about_a_run(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered]
) -> None:
    run_id = trigger(engine, "hello-world", {"name": "Ada"}, tags=["vip"]).row["id"]
    child = engine.trigger("dev", NewRun("typed", '{"name": "kid"}', parse_options({}, 0),
                                         parent_id=run_id)).row["id"]
    [claimed] = engine.claim("dev", "w1", ["hello-world"], 1)
    engine.append_logs([{"run_id": run_id, "lease_id": claimed["lease_id"], "attempt": 1,
                         "at": engine.clock.now(),
                         "level": "WARNING", "message": "careful <now>",
                         "attributes": '{"user": 17}'}])
    page = dash.get(f"/runs/{run_id}").text
    assert "&#34;Ada&#34;" in page or "&quot;Ada&quot;" in page
    assert "careful &lt;now&gt;" in page and "user=17" in page
    assert "attempt 1" in page
    assert f'href="/runs/{child}"' in page
    assert f'data-live="/runs/{run_id}/live?after=' in page  # live while not final
    assert ('hx-trigger="every 15s [outlastIdle()], outlast-live[outlastIdle()]"'
            in page)  # events, and a slow poll besides, unless a confirmation is open
    assert f'href="/runs/{run_id}"' in dash.get(f"/runs/{child}").text  # parent link
    assert claimed["id"] == run_id


def test_run_page_of_a_failure_shows_its_traceback(dash: Any, engine: Engine,
                                                   trigger: Callable[..., Triggered]) -> None:
    from outlast.engine import Outcome

    run_id = trigger(engine, "hello-world", {}, max_attempts=1).row["id"]
    [row] = engine.claim("dev", "w1", None, 1)
    stack = "Traceback (most recent call last):\n  File \"t.py\", line 3\nKeyError: 'name'"
    error = {"type": "KeyError", "message": "'name'", "stack": stack}
    engine.record([Outcome(run_id=run_id, lease_id=row["lease_id"], attempt=1, kind="failed",
                           error=error, executed=0.5)])
    page = dash.get(f"/runs/{run_id}").text
    assert "Traceback (most recent call last)" in page and "KeyError" in page
    assert "data-live" not in page and "hx-trigger" not in page  # final: nothing to watch


def test_run_pages_of_other_environments_are_not_found(
    dash: Any, engine: Engine, register: Callable[..., Any], trigger: Callable[..., Triggered]
) -> None:
    register(engine, "secret", env="prod")
    run_id = trigger(engine, "secret", {}, env="prod").row["id"]
    assert dash.get(f"/runs/{run_id}").status_code == 404
    assert dash.get("/runs/run_nope").status_code == 404


def test_cancel_replay_and_reschedule_buttons(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered], clock: FakeClock
) -> None:
    run_id = trigger(engine, "typed", {"name": "Ada"}).row["id"]
    response = post(dash, f"/runs/{run_id}/reschedule", delay="10m", back=f"/runs/{run_id}")
    assert response.status_code == 303
    run = engine.retrieve("dev", run_id)
    assert run["status"] == "DELAYED" and run["available_at"] == clock.now() + 600

    replayed = post(dash, f"/runs/{run_id}/replay", payload='{"name": "Grace"}')
    new_id = replayed.headers["location"].rsplit("/", 1)[1]
    assert engine.retrieve("dev", new_id)["payload"] == {"name": "Grace"}

    post(dash, f"/runs/{run_id}/replay", payload='{"nom": 1}', back=f"/runs/{run_id}")
    assert "is invalid" in flash(dash, f"/runs/{run_id}")
    post(dash, f"/runs/{run_id}/replay", payload="{oops", back=f"/runs/{run_id}")
    assert "not valid JSON" in flash(dash, f"/runs/{run_id}")

    post(dash, f"/runs/{run_id}/cancel", back=f"/runs/{run_id}")
    assert engine.retrieve("dev", run_id)["status"] == "CANCELED"
    post(dash, f"/runs/{run_id}/cancel", back=f"/runs/{run_id}")
    assert "already CANCELED" in flash(dash, f"/runs/{run_id}")


def test_forms_without_the_csrf_token_are_refused(dash: Any, engine: Engine,
                                                  trigger: Callable[..., Triggered]) -> None:
    run_id = trigger(engine, "hello-world", {}).row["id"]
    dash.get("/")  # a session exists, but the form below does not carry its token
    assert dash.post(f"/runs/{run_id}/cancel", data={"csrf": "forged"}).status_code == 403
    assert dash.post(f"/runs/{run_id}/cancel").status_code == 403
    assert engine.retrieve("dev", run_id)["status"] == "QUEUED"


# -- tasks, queues, workers, overview --------------------------------------------------------


def test_tasks_page_and_the_test_form(dash: Any, engine: Engine) -> None:
    page = dash.get("/tasks").text
    assert "hello-world" in page and "emails" in page
    form = dash.get("/tasks/typed").text
    assert "&#34;name&#34;" in form or "&quot;name&quot;" in form  # schema skeleton
    refused = post(dash, "/tasks/typed/test", payload='{"name": 3}', back="/tasks/typed")
    assert refused.headers["location"].startswith("/tasks/typed?payload=")
    again = dash.get(refused.headers["location"]).text
    assert "is invalid" in again and "&#34;name&#34;: 3" in again  # the payload as typed
    done = post(dash, "/tasks/typed/test", payload='{"name": "Ada"}', tags="a, b", delay="5m")
    run = engine.retrieve("dev", done.headers["location"].rsplit("/", 1)[1])
    assert run["payload"] == {"name": "Ada"} and run["tags"] == ["a", "b"]
    assert run["status"] == "DELAYED"
    assert dash.get("/tasks/nope").status_code == 404


def test_task_stats_count_recent_successes_and_failures(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered]
) -> None:
    from outlast.engine import Outcome

    for ok in (True, True, True, False):
        run_id = trigger(engine, "hello-world", {}, max_attempts=1).row["id"]
        [row] = engine.claim("dev", "w", None, 1)
        engine.record([Outcome(run_id=run_id, lease_id=row["lease_id"], attempt=1,
                               kind="completed" if ok else "failed",
                               output=1 if ok else None, executed=2.0,
                               error=None if ok else {"type": "E", "message": "x"})])
    assert "75%" in dash.get("/tasks").text


def test_queues_workers_and_overview(dash: Any, engine: Engine,
                                     trigger: Callable[..., Triggered]) -> None:
    trigger(engine, "typed", {"name": "a"})
    queues = dash.get("/queues").text
    assert "emails" in queues and '<td class="num limit concurrency_limit">3<' in queues
    engine.register_worker("dev", "worker_1", {"hostname": "box", "pid": 42, "version": "0.1.0",
                                               "queues": ["emails"], "concurrency": 8})
    workers = dash.get("/workers").text
    assert "worker_1" in workers and "box" in workers and "emails" in workers
    engine.set_worker_import_errors("worker_1", {"tasks/x.py": {
        "error": "SyntaxError: '(' was never closed (x.py, line 3)", "traceback": "Traceback…"}})
    workers = dash.get("/workers").text
    assert "1 file failed to import" in workers and "tone-red" in workers
    assert "tasks/x.py</strong> failed to import: SyntaxError: &#39;(&#39; was never closed" \
        in workers
    overview = dash.get("/overview").text
    assert "<svg" in overview and "Runs per minute" in overview


# -- login -----------------------------------------------------------------------------------


def test_server_dashboard_asks_for_a_key_and_shows_its_environment(
    anonymous: Any, engine: Engine, register: Callable[..., Any],
    trigger: Callable[..., Triggered]
) -> None:
    register(engine, "prod-task", env="prod")
    prod_run = trigger(engine, "prod-task", {}, env="prod").row["id"]
    dev_run = trigger(engine, "hello-world", {}).row["id"]
    first = anonymous.get("/runs/x?a=1")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fruns%2Fx%3Fa%3D1"
    token = csrf_of(anonymous, "/login")
    bad = anonymous.post("/login", data={"csrf": token, "key": "ol_prod_nope", "next": "/"})
    assert bad.status_code == 401 and "not valid" in bad.text
    key = engine.create_api_key("prod")
    good = anonymous.post("/login", data={"csrf": token, "key": key, "next": "//evil.example"})
    assert good.status_code == 303 and good.headers["location"] == "/"
    page = anonymous.get("/").text
    assert prod_run in page and dev_run not in page
    assert anonymous.get(f"/runs/{dev_run}").status_code == 404
    post(anonymous, "/logout")
    assert anonymous.get("/").status_code == 303


def test_a_forged_session_cookie_is_ignored(anonymous: Any) -> None:
    anonymous.cookies.set("outlast_session", "eyJlbnYiOiJwcm9kIn0.forged")
    assert anonymous.get("/").status_code == 303


# -- waitpoint tokens ------------------------------------------------------------------------


def test_tokens_page_approves_rejects_and_answers_with_json(dash: Any, engine: Engine) -> None:
    assert "No run is waiting for a token" in dash.get("/tokens").text
    ids = [engine.durable.new_token("dev", None, ["approval"], None)["id"] for _ in range(3)]
    page = dash.get("/tokens").text
    assert all(i in page for i in ids) and "Approve" in page
    post(dash, f"/tokens/{ids[0]}/complete", decision="approve", back="/tokens")
    post(dash, f"/tokens/{ids[1]}/complete", decision="reject", back="/tokens")
    post(dash, f"/tokens/{ids[2]}/complete", decision="json", output='{"n": 2}', back="/tokens")
    outputs = [engine.durable.retrieve_token("dev", i)["output"] for i in ids]
    assert outputs == [{"approved": True}, {"approved": False}, {"n": 2}]
    assert "Completed" in flash(dash, "/tokens")
    assert ids[0] in dash.get("/tokens?status=COMPLETED").text
    post(dash, f"/tokens/{ids[0]}/complete", decision="approve", back="/tokens")
    assert "error" in flash(dash, "/tokens")
