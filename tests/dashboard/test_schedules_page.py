"""The Schedules page through Starlette's TestClient, on SQLite and PostgreSQL.

The fake clock starts at ``T0`` (Thursday 2026-01-01 00:00 UTC), so next runs are exact.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.errors import ConflictError
from tests.dashboard.test_pages import csrf_of, flash, post

PARIS_WEEKDAYS = {"cron": "0 9 * * MON-FRI", "timezone": "Europe/Paris"}


def text(page: Any) -> str:
    return html.unescape(page.text)


def field_error(page: Any, name: str) -> str:
    match = re.search(rf'id="f-{name}-error">([^<]*)<', page.text)
    return html.unescape(match.group(1)) if match else ""


def declare(engine: Engine, *, schedule: dict[str, str] | None = PARIS_WEEKDAYS) -> None:
    """What a worker whose code has ``@schedules.task(id="report", ...)`` registers."""
    engine.register_tasks("dev", [
        TaskDefinition(id="hello-world", queue="hello-world"),
        TaskDefinition(id="typed", queue="emails"),
        TaskDefinition(id="report", queue="report", schedule=schedule),
    ])


def test_empty_page_tells_how_to_declare_a_schedule(dash: Any) -> None:
    page = text(dash.get("/schedules"))
    assert "No schedules yet" in page
    assert "@schedules.task(id=\"nightly-report\", cron=\"0 3 * * *\"" in page
    assert 'action="/schedules"' in page  # the create form is there from the start
    nav = re.findall(r"<nav>(.*?)</nav>", page, re.S)[0]
    assert 'href="/schedules"' in nav


def test_list_shows_cron_zone_next_runs_state_and_source(dash: Any, engine: Engine) -> None:
    declare(engine)
    made, _ = engine.schedules.create("dev", task="hello-world", cron_text="30 8 * * *",
                                      timezone="Asia/Seoul", external_id="customer-42")
    page = text(dash.get("/schedules"))
    assert "0 9 * * MON-FRI" in page and "At 09:00 on Monday through Friday" in page
    # next five runs in each schedule's own zone (T0 is 01:00 in Paris, 09:00 in Seoul)
    assert "Thu Jan 1, 09:00 CET" in page and "in 8h 00m" in page
    for day in ("Fri Jan 2", "Mon Jan 5", "Tue Jan 6", "Wed Jan 7"):
        assert f"{day}, 09:00 CET" in page
    assert "Fri Jan 2, 08:30 KST" in page and "Tue Jan 6, 08:30 KST" in page
    assert "Europe/Paris" in page and "Asia/Seoul" in page and "customer-42" in page
    assert page.count(">in code</span>") == 1 and page.count(">API</span>") == 1
    assert page.count(">active</span>") == 2 and page.count(">Deactivate</button>") == 2
    assert f'href="/schedules/{made["id"]}"' in page


def test_create_from_the_form_opens_the_new_schedule(dash: Any, engine: Engine) -> None:
    declare(engine)
    created = post(dash, "/schedules", task="hello-world", cron="*/15 9-17 * * 1-5",
                   timezone="Europe/Paris", external_id="customer-7",
                   deduplication_key="report:customer-7")
    assert created.status_code == 303
    [schedule], _ = engine.schedules.list("dev", task="hello-world")
    assert created.headers["location"] == f"/schedules/{schedule['id']}"
    assert schedule["cron"] == "*/15 9-17 * * 1-5" and schedule["timezone"] == "Europe/Paris"
    assert schedule["external_id"] == "customer-7" and schedule["source"] == "imperative"
    detail = text(dash.get(created.headers["location"]))
    assert "Created the schedule of hello-world" in detail
    assert "Thu Jan 1, 09:00 CET" in detail and "Thu Jan 1, 09:15 CET" in detail
    assert "No ticks yet" in detail
    # the same deduplication key updates the schedule instead of adding one
    again = post(dash, "/schedules", task="hello-world", cron="@hourly", timezone="UTC",
                 deduplication_key="report:customer-7")
    assert again.headers["location"] == f"/schedules/{schedule['id']}"
    assert "Updated the schedule" in flash(dash, again.headers["location"])
    [updated], _ = engine.schedules.list("dev", task="hello-world")
    assert updated["cron"] == "0 * * * *" and updated["id"] == schedule["id"]


def test_create_errors_show_beside_their_fields_and_keep_what_was_typed(
    dash: Any, engine: Engine
) -> None:
    declare(engine)
    refused = post(dash, "/schedules", task="no-such-task", cron="61 * * * *",
                   timezone="Mars/Olympus", external_id="kept-id", deduplication_key="kept-key")
    assert refused.status_code == 422
    assert "unknown task 'no-such-task'" in field_error(refused, "task")
    assert "invalid cron '61 * * * *'" in field_error(refused, "cron")
    assert "unknown time zone 'Mars/Olympus'" in field_error(refused, "timezone")
    page = text(refused)
    for name, value in (("task", "no-such-task"), ("cron", "61 * * * *"),
                        ("timezone", "Mars/Olympus"), ("external_id", "kept-id"),
                        ("deduplication_key", "kept-key")):
        assert f'name="{name}" value="{value}"' in page
    assert 'id="f-task" name="task" value="no-such-task" placeholder="e.g. hello-world" ' \
           'list="task-options" aria-invalid="true"' in page
    assert [s["task"] for s in engine.schedules.list("dev")[0]] == ["report"]
    missing = post(dash, "/schedules", task="", cron="", timezone="")
    assert missing.status_code == 422
    assert field_error(missing, "task") == "Choose the task to trigger."
    assert "non-empty" in field_error(missing, "cron")
    assert field_error(missing, "timezone") == ""  # an empty zone means UTC
    assert 'name="timezone" value="UTC"' in missing.text


def test_create_refused_by_the_engine_shows_the_reason_on_the_form(
    dash: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    declare(engine)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ConflictError("that deduplication key belongs to a schedule declared in code")

    monkeypatch.setattr(engine.schedules, "create", refuse)
    refused = post(dash, "/schedules", task="typed", cron="0 0 * * *", timezone="UTC",
                   deduplication_key="k")
    assert refused.status_code == 422
    assert "belongs to a schedule declared in code" in refused.text
    assert 'name="deduplication_key" value="k"' in refused.text


def test_deactivate_and_activate_an_api_schedule(dash: Any, engine: Engine,
                                                 clock: FakeClock) -> None:
    declare(engine)
    made, _ = engine.schedules.create("dev", task="hello-world", cron_text="0 * * * *")
    paused = post(dash, f"/schedules/{made['id']}/deactivate", back="/schedules")
    assert paused.status_code == 303 and paused.headers["location"] == "/schedules"
    assert not engine.schedules.retrieve("dev", made["id"])["active"]
    page = text(dash.get("/schedules"))
    assert "Paused the schedule of hello-world" in page
    assert ">paused</span>" in page and "Paused from the dashboard, the API or the CLI." in page
    assert "none while inactive" in page and ">Activate</button>" in page
    clock.advance(90 * 60)
    resumed = post(dash, f"/schedules/{made['id']}/activate", back=f"/schedules/{made['id']}")
    assert resumed.headers["location"] == f"/schedules/{made['id']}"
    assert "it fires next at Thu Jan 1, 02:00 UTC" in flash(dash, f"/schedules/{made['id']}")
    assert engine.schedules.retrieve("dev", made["id"])["active"]


def test_a_declared_schedule_can_be_paused_but_not_revived_once_removed_from_code(
    dash: Any, engine: Engine
) -> None:
    declare(engine)
    [declared], _ = engine.schedules.list("dev", task="report")
    post(dash, f"/schedules/{declared['id']}/deactivate", back="/schedules")
    assert not engine.schedules.retrieve("dev", declared["id"])["active"]
    post(dash, f"/schedules/{declared['id']}/activate", back="/schedules")
    assert engine.schedules.retrieve("dev", declared["id"])["active"]
    declare(engine, schedule=None)  # a deploy drops the decorator's schedule
    page = text(dash.get("/schedules"))
    assert ">removed from code</span>" in page
    assert "Its task no longer declares it in code" in page
    assert "disabled" in page.split(f'action="/schedules/{declared["id"]}/activate"')[1][:400]
    refused = post(dash, f"/schedules/{declared['id']}/activate", back="/schedules")
    assert refused.status_code == 303
    assert "no longer declares it in code" in html.unescape(flash(dash, "/schedules"))


def test_detail_shows_recent_ticks_with_the_ones_skipped_after_downtime(
    dash: Any, engine: Engine, clock: FakeClock
) -> None:
    declare(engine)
    made, _ = engine.schedules.create("dev", task="hello-world", cron_text="0 * * * *",
                                      timezone="Asia/Tokyo")
    clock.advance(3600)
    engine.schedules.tick()
    clock.advance(5 * 3600)  # the scheduler was down for four ticks
    fired = engine.schedules.tick().fired
    page = text(dash.get(f"/schedules/{made['id']}"))
    assert page.count(">skipped</span>") == 4 and page.count(">fired</span>") == 2
    assert "fired after skipping 4 ticks" in page
    assert "<strong>4</strong> skipped among these" in page
    assert "Thu Jan 1, 15:00 JST" in page and "Thu Jan 1, 11:00 JST" in page
    assert f'href="/runs/{fired[0]}"' in page
    assert "Last tick" in page and "Thu Jan 1, 15:00 JST" in page


def test_the_cron_preview_reads_the_cron_and_lists_next_runs(dash: Any) -> None:
    good = text(dash.get("/schedules/preview", params={"cron": "0 9 * * *",
                                                      "timezone": "America/New_York"}))
    assert "At 09:00 every day" in good
    assert "Thu Jan 1, 09:00 EST" in good and "Mon Jan 5, 09:00 EST" in good
    bad = text(dash.get("/schedules/preview", params={"cron": "0 25 * * *"}))
    assert "invalid cron '0 25 * * *'" in bad
    assert "Type a cron expression" in dash.get("/schedules/preview").text


def test_unknown_and_other_environment_schedules_are_not_found(
    dash: Any, engine: Engine, register: Any
) -> None:
    register(engine, "prod-task", env="prod")
    theirs, _ = engine.schedules.create("prod", task="prod-task", cron_text="@daily")
    assert dash.get("/schedules/sched_nope").status_code == 404
    assert dash.get(f"/schedules/{theirs['id']}").status_code == 404
    assert theirs["id"] not in dash.get("/schedules").text
    refused = post(dash, f"/schedules/{theirs['id']}/deactivate", back="/schedules")
    assert refused.status_code == 303
    assert engine.schedules.retrieve("prod", theirs["id"])["active"]


def test_schedule_forms_need_the_csrf_token(dash: Any, engine: Engine) -> None:
    declare(engine)
    [declared], _ = engine.schedules.list("dev", task="report")
    assert dash.post("/schedules", data={"task": "hello-world", "cron": "@daily"}).status_code \
        == 403
    assert dash.post(f"/schedules/{declared['id']}/deactivate", data={"csrf": "forged"}
                     ).status_code == 403
    assert engine.schedules.retrieve("dev", declared["id"])["active"]
    assert csrf_of(dash, "/schedules")


@pytest.mark.parametrize("path", ["/schedules", "/schedules/preview?cron=@daily"])
def test_server_dashboard_asks_for_a_key_first(anonymous: Any, path: str) -> None:
    assert anonymous.get(path).status_code == 303
