"""The Queues page and a queue's page through Starlette's TestClient, on SQLite and
PostgreSQL: counts and limits with their source, pause and resume, overrides set and reset
from the form, mistakes shown beside their field, the environment-wide limit, CSRF, and
queues of another environment.

``dash_tasks`` registers ``hello-world`` (queue ``hello-world``, no limits) and ``typed``
(queue ``emails``, concurrency limit 3 in code).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.settings import ENV_LIMIT_VAR, read_settings
from outlast.engine import Engine
from outlast.engine.triggering import Triggered
from tests.dashboard.test_pages import csrf_of, flash, post

CRM = TaskDefinition(id="sync-crm", queue="crm-api", concurrency_limit=2, total_limit=10,
                     rate_limit="100/m")


def text(page: Any) -> str:
    return html.unescape(page.text)


def said(page: Any) -> str:
    """The page's words without tags, as a reader sees them."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page.text)).split())


def flashed(client: Any, path: str) -> str:
    return html.unescape(flash(client, path))


def cells(client: Any, queue: str) -> dict[str, str]:
    """The list's row of ``queue``: each cell's text by its class, tags stripped."""
    page = client.get("/queues").text
    row = re.search(rf'<tr data-queue="{re.escape(queue)}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {queue}"
    out = {}
    for cls, body in re.findall(r'<td class="([^"]*)">(.*?)</td>', row.group(1), re.S):
        words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
        out[cls.replace("num ", "").replace("limit ", "")] = words
    return out


def field_error(page: Any, name: str) -> str:
    match = re.search(rf'id="f-{name}-error">([^<]*)<', page.text)
    return html.unescape(match.group(1)) if match else ""


def typed(page: Any, field_id: str) -> str:
    match = re.search(rf'id="{field_id}" name="[^"]+" value="([^"]*)"', page.text)
    assert match, f"no field {field_id}"
    return html.unescape(match.group(1))


# -- the list ----------------------------------------------------------------------------


def test_empty_page_and_the_environment_limit_card(engine: Engine) -> None:
    from starlette.testclient import TestClient

    from outlast.server.app import create_app

    with TestClient(create_app(engine, dev_api_key="k", scheduler=False)) as client:
        client_page = client.get("/queues")
        page = text(client_page)
    assert "No queues yet" in page and "outlast dev" in page
    assert "<table" not in page
    assert "Environment limit" in page and "No limit · 0 executing" in said(client_page)


def test_list_shows_counts_limits_and_where_each_comes_from(
    dash: Any, engine: Engine, trigger: Callable[..., Triggered]
) -> None:
    engine.register_tasks("dev", [CRM])
    engine.queues.update("dev", "crm-api", {"key_rate_limit": "5/s", "total_limit": None})
    for _ in range(3):
        trigger(engine, "sync-crm", {}, concurrency_key="tenant-a")
    trigger(engine, "typed", {"name": "a"})
    engine.claim("dev", "w", ["crm-api"], 1)

    crm = cells(dash, "crm-api")
    assert crm["queued"] == "2" and crm["running"] == "1"
    assert crm["concurrency_limit"] == "2 code"
    assert crm["total_limit"] == "– override"  # the code's 10, lifted at run time
    assert crm["rate_limit"] == "100/m code"
    assert crm["key_rate_limit"] == "5/s override"
    assert "active" in crm["state"] and "Pause" in crm["queue-actions"]
    assert "Reset to code" in crm["queue-actions"]

    emails = cells(dash, "emails")
    assert (emails["queued"], emails["running"]) == ("1", "0")
    assert emails["concurrency_limit"] == "3 code"
    assert emails["total_limit"] == emails["rate_limit"] == emails["key_rate_limit"] == "–"
    assert "Reset to code" not in emails["queue-actions"]
    page = dash.get("/queues").text
    assert 'href="/queues/crm-api#limits"' in page and 'hx-trigger="every 3s' in page
    assert "the code says 10" in page  # the override's tooltip names the code's value


def test_pause_and_resume_from_the_list(dash: Any, engine: Engine,
                                        trigger: Callable[..., Triggered]) -> None:
    trigger(engine, "typed", {"name": "a"})
    paused = post(dash, "/queues/emails/pause", back="/queues")
    assert paused.status_code == 303 and paused.headers["location"] == "/queues"
    assert engine.queues.retrieve("dev", "emails")["paused"]
    assert flashed(dash, "/queues") == ("ok: Paused emails: it starts no new runs; running runs "
                                      "finish and 1 queued wait.")
    row = cells(dash, "emails")
    assert "paused" in row["state"] and "Resume" in row["queue-actions"]
    assert engine.claim("dev", "w", ["emails"], 1) == []  # a paused queue starts nothing

    resumed = post(dash, "/queues/emails/resume", back="/queues/emails")
    assert resumed.headers["location"] == "/queues/emails"
    assert not engine.queues.retrieve("dev", "emails")["paused"]
    assert "Resumed emails" in flashed(dash, "/queues/emails")
    assert len(engine.claim("dev", "w", ["emails"], 1)) == 1


# -- one queue: the limits form ----------------------------------------------------------


def test_queue_page_shows_the_form_filled_with_the_limits_in_force(dash: Any,
                                                                   engine: Engine) -> None:
    engine.register_tasks("dev", [CRM])
    page = dash.get("/queues/crm-api")
    assert page.status_code == 200
    assert typed(page, "f-concurrency_limit") == "2" and typed(page, "f-total_limit") == "10"
    assert typed(page, "f-rate_limit") == "100/m" and typed(page, "f-key_rate_limit") == ""
    assert text(page).count(">code</span>") == 4 and "Reset to code" not in page.text
    assert 'action="/queues/crm-api/limits"' in page.text and ">Pause</button>" in page.text


def test_saving_overrides_only_the_fields_changed_then_reset_one_and_all(
    dash: Any, engine: Engine
) -> None:
    engine.register_tasks("dev", [CRM])
    saved = post(dash, "/queues/crm-api/limits", back="/queues/crm-api",
                 concurrency_limit="5", total_limit="10", rate_limit="200/60s",
                 key_rate_limit="")
    assert saved.status_code == 303 and saved.headers["location"] == "/queues/crm-api"
    q = engine.queues.retrieve("dev", "crm-api")
    assert q["overrides"] == {"concurrency_limit": 5, "rate_limit": "200/m"}
    assert (q["concurrency_limit"], q["total_limit"], q["rate_limit"]) == (5, 10, "200/m")
    page = dash.get("/queues/crm-api")
    assert "Overrode the limits of crm-api: concurrency per key 5, rate limit 200/m." in text(
        page)
    assert typed(page, "f-concurrency_limit") == "5" and typed(page, "f-rate_limit") == "200/m"
    words = said(page)
    assert "The code says 2 · Reset to code" in words and "The code says 100/m" in words
    assert text(page).count(">override</span>") == 2

    # clearing a field the code sets is an override too: no limit
    post(dash, "/queues/crm-api/limits", concurrency_limit="5", total_limit="",
         rate_limit="200/m", key_rate_limit="", back="/queues/crm-api")
    q = engine.queues.retrieve("dev", "crm-api")
    assert q["total_limit"] is None and q["overrides"]["total_limit"] is None
    assert cells(dash, "crm-api")["total_limit"] == "– override"

    # a worker restart keeps the overrides
    engine.register_tasks("dev", [CRM])
    assert engine.queues.retrieve("dev", "crm-api")["concurrency_limit"] == 5

    one = post(dash, "/queues/crm-api/reset", limit="concurrency_limit", back="/queues/crm-api")
    assert one.headers["location"] == "/queues/crm-api"
    q = engine.queues.retrieve("dev", "crm-api")
    assert q["concurrency_limit"] == 2 and set(q["overrides"]) == {"rate_limit", "total_limit"}
    assert ("The concurrency per key of crm-api is back to the code's: 2."
            in flashed(dash, "/queues/crm-api"))

    every = post(dash, "/queues/crm-api/reset", limit="all", back="/queues")
    assert every.headers["location"] == "/queues"
    q = engine.queues.retrieve("dev", "crm-api")
    assert q["overrides"] == {}
    assert (q["concurrency_limit"], q["total_limit"], q["rate_limit"]) == (2, 10, "100/m")
    assert "Every limit of crm-api is back to the code's." in flashed(dash, "/queues")


def test_saving_an_unchanged_form_overrides_nothing(dash: Any, engine: Engine) -> None:
    post(dash, "/queues/emails/limits", concurrency_limit="3", total_limit="", rate_limit="",
         key_rate_limit="", back="/queues/emails")
    assert engine.queues.retrieve("dev", "emails")["overrides"] == {}
    assert "No limit of emails changed." in flashed(dash, "/queues/emails")


@pytest.mark.parametrize(("field", "value", "error"), [
    ("rate_limit", "lots", "Expected COUNT/WINDOW like '100/m', '10/s' or '20/30s', got 'lots'"),
    ("rate_limit", "10/fortnight", "Unknown window 'fortnight'"),
    ("key_rate_limit", "0/s", "Count and window must be positive"),
    ("concurrency_limit", "-2", "Must be at least 1, not -2"),
    ("concurrency_limit", "0", "Must be at least 1, not 0"),
    ("total_limit", "ten", "Enter a whole number, not 'ten'"),
    ("total_limit", "2.5", "Enter a whole number"),
    ("total_limit", "99999999999", "Must be at most 2147483647"),
])
def test_a_bad_limit_is_explained_beside_its_field_and_kept(
    dash: Any, engine: Engine, field: str, value: str, error: str
) -> None:
    form = {"concurrency_limit": "7", "total_limit": "", "rate_limit": "", "key_rate_limit": ""}
    form[field] = value
    page = post(dash, "/queues/emails/limits", back="/queues/emails", **form)
    assert page.status_code == 422
    assert error in field_error(page, field)
    assert 'aria-invalid="true"' in page.text and "see the fields marked below" in page.text
    assert typed(page, f"f-{field}") == value
    assert typed(page, "f-concurrency_limit") == ("7" if field != "concurrency_limit" else value)
    assert engine.queues.retrieve("dev", "emails")["overrides"] == {}  # nothing saved


def test_every_mistake_at_once_each_beside_its_field(dash: Any, engine: Engine) -> None:
    page = post(dash, "/queues/emails/limits", concurrency_limit="-1", total_limit="x",
                rate_limit="fast", key_rate_limit="3/s")
    assert page.status_code == 422
    assert {f for f in ("concurrency_limit", "total_limit", "rate_limit", "key_rate_limit")
            if field_error(page, f)} == {"concurrency_limit", "total_limit", "rate_limit"}
    assert typed(page, "f-key_rate_limit") == "3/s"
    assert engine.queues.retrieve("dev", "emails")["key_rate_limit"] is None


def test_resetting_an_unknown_limit_is_refused_with_a_message(dash: Any) -> None:
    refused = post(dash, "/queues/emails/reset", limit="speed", back="/queues/emails")
    assert refused.status_code == 303
    assert "nothing to reset: 'speed' is not a limit" in flashed(dash, "/queues/emails")


def test_a_queue_name_with_a_slash(dash: Any, engine: Engine) -> None:
    engine.register_tasks("dev", [TaskDefinition(id="tenant-sync", queue="tenant/api")])
    assert 'href="/queues/tenant%2Fapi"' in dash.get("/queues").text
    assert dash.get("/queues/tenant%2Fapi").status_code == 200
    post(dash, "/queues/tenant%2Fapi/pause", back="/queues")
    assert engine.queues.retrieve("dev", "tenant/api")["paused"]
    saved = post(dash, "/queues/tenant%2Fapi/limits", concurrency_limit="4", total_limit="",
                 rate_limit="", key_rate_limit="")
    assert saved.headers["location"] == "/queues/tenant%2Fapi"
    assert engine.queues.retrieve("dev", "tenant/api")["concurrency_limit"] == 4


# -- the environment limit -------------------------------------------------------------


def test_environment_limit_set_refused_and_back_to_the_configuration(
    dash: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = post(dash, "/queues/environment-limit", concurrency_limit="-4")
    assert bad.status_code == 422
    assert "Must be at least 1, not -4" in field_error(bad, "env-limit")
    assert typed(bad, "f-env-limit") == "-4"
    assert engine.queues.environment_limit("dev")["concurrency_limit"] is None

    done = post(dash, "/queues/environment-limit", concurrency_limit="4")
    assert done.status_code == 303 and done.headers["location"] == "/queues"
    assert engine.queues.environment_limit("dev") == {
        "environment": "dev", "running": 0, "concurrency_limit": 4, "source": "api"}
    page = said(dash.get("/queues"))
    assert "0 of 4 executing" in page and "set at run time" in page
    assert "At most 4 runs of dev execute at once across all queues." in page
    assert typed(dash.get("/queues"), "f-env-limit") == "4"

    monkeypatch.setattr(engine, "settings", read_settings({ENV_LIMIT_VAR: "12"}))
    post(dash, "/queues/environment-limit", concurrency_limit="")
    assert engine.queues.environment_limit("dev")["source"] == "config"
    page = said(dash.get("/queues"))
    assert "0 of 12 executing" in page and f"from {ENV_LIMIT_VAR}" in page
    assert engine.queues.environment_limit("prod")["concurrency_limit"] == 12  # untouched

    monkeypatch.setattr(engine, "settings", read_settings({}))
    post(dash, "/queues/environment-limit", concurrency_limit="")
    assert "No environment-wide limit" in flashed(dash, "/queues")


# -- CSRF and other environments --------------------------------------------------------


@pytest.mark.parametrize(("path", "form"), [
    ("/queues/emails/pause", {}),
    ("/queues/emails/limits", {"concurrency_limit": "9"}),
    ("/queues/emails/reset", {"limit": "all"}),
    ("/queues/environment-limit", {"concurrency_limit": "1"}),
])
def test_forms_without_the_csrf_token_are_refused(dash: Any, engine: Engine, path: str,
                                                  form: dict[str, str]) -> None:
    engine.queues.update("dev", "emails", {"rate_limit": "1/s"})
    for token in (None, "forged"):
        data = dict(form) if token is None else dict(form, csrf=token)
        refused = dash.post(path, data=data)
        assert refused.status_code == 403 and "did not come from this dashboard" in refused.text
    q = engine.queues.retrieve("dev", "emails")
    assert not q["paused"] and q["concurrency_limit"] == 3
    assert q["overrides"] == {"rate_limit": "1/s"}
    assert engine.queues.environment_limit("dev")["source"] == "config"


def test_a_queue_of_another_environment_is_not_found(
    dash: Any, engine: Engine, register: Callable[..., Any]
) -> None:
    register(engine, "prod-task", env="prod")
    assert "prod-task" not in dash.get("/queues").text
    missing = dash.get("/queues/prod-task")
    assert missing.status_code == 404 and "no queue 'prod-task'" in text(missing)
    assert dash.get("/queues/nope").status_code == 404
    token = csrf_of(dash, "/queues")
    for action, form in (("pause", {}), ("limits", {"concurrency_limit": "1"}),
                         ("reset", {"limit": "all"})):
        refused = dash.post(f"/queues/prod-task/{action}",
                            data=dict(form, csrf=token, back="/queues"))
        assert refused.status_code == 303 and refused.headers["location"] == "/queues"
        assert "no queue 'prod-task' in environment 'dev'" in flashed(dash, "/queues")
    prod = engine.queues.retrieve("prod", "prod-task")
    assert not prod["paused"] and prod["overrides"] == {}


def test_a_key_of_another_environment_sees_only_its_queues(
    anonymous: Any, engine: Engine, register: Callable[..., Any]
) -> None:
    register(engine, "prod-task", env="prod")
    key = engine.create_api_key("prod")
    anonymous.post("/login", data={"csrf": csrf_of(anonymous, "/login"), "key": key,
                                   "next": "/queues"})
    page = anonymous.get("/queues").text
    assert 'data-queue="prod-task"' in page and 'data-queue="emails"' not in page
    assert anonymous.get("/queues/emails").status_code == 404
    refused = post(anonymous, "/queues/emails/pause", back="/queues")
    assert refused.status_code == 303
    assert not engine.queues.retrieve("dev", "emails")["paused"]
    post(anonymous, "/queues/prod-task/pause", back="/queues")
    assert engine.queues.retrieve("prod", "prod-task")["paused"]
