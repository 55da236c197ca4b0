"""Schedules (``/schedules``): every cron schedule with its next runs in its own zone, a
form that creates one, pause and resume buttons, and each schedule's recent ticks, the
ones skipped after downtime included.

The create form checks each field on its own before asking the engine, so every mistake
shows next to the field that caused it, and the page comes back with what was typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from outlast.core import cron
from outlast.engine.schedules import DEACTIVATED, DECLARATIVE, REMOVED_FROM_CODE
from outlast.errors import OutlastError, TaskNotFoundError, ValidationError
from outlast.server.dashboard.format import duration
from outlast.server.dashboard.web import Page, safe_next

FIELDS = ("task", "cron", "timezone", "external_id", "deduplication_key")
PAGE_SIZE = 100
TICKS = 50
#: suggestions for the time zone field; any IANA name is accepted
ZONES = ("UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York",
         "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata",
         "Asia/Singapore", "Asia/Seoul", "Asia/Tokyo", "Australia/Sydney")
REASONS = {
    DEACTIVATED: "Paused from the dashboard, the API or the CLI.",
    REMOVED_FROM_CODE: "Its task no longer declares it in code; deploy code that does.",
}
#: the same, in a few words for the list
SHORT_REASONS = {DEACTIVATED: "deactivated by hand", REMOVED_FROM_CODE: "no longer in code"}
Record = dict[str, Any]


def zone_time(ts: float, tz: str) -> str:
    """``Mon Nov 24, 09:00 CET``: a time as the schedule's zone reads it."""
    when = datetime.fromtimestamp(ts, cron.zone(tz))
    return f"{when.strftime('%a %b %-d, %H:%M')} {when.tzname() or tz}"


def view(record: Record, now: float) -> Record:
    """The API's record plus what the templates show: times in the zone, the reason."""
    tz = record["timezone"]
    upcoming = [zone_time(datetime.fromisoformat(t).timestamp(), tz) for t in record["upcoming"]]
    next_run = record["next_run"]
    return dict(record, upcoming_text=upcoming, declared=record["source"] == DECLARATIVE,
                next_in=duration(max(0.0, next_run - now)) if next_run else None,
                last_text=zone_time(record["last_run"], tz) if record["last_run"] else None,
                reason_text=REASONS.get(record["inactive_reason"] or "", ""),
                reason_short=SHORT_REASONS.get(record["inactive_reason"] or "", ""),
                can_activate=record["inactive_reason"] != REMOVED_FROM_CODE)


def schedules_page(page: Page) -> Response:
    return _render_list(page, {"timezone": "UTC"}, {})


def _render_list(page: Page, form: dict[str, str], errors: dict[str, str],
                 status_code: int = 200) -> Response:
    found, cursor = page.engine.schedules.list(page.env, limit=PAGE_SIZE,
                                               cursor=page.q("cursor") or None)
    return page.render(
        "schedules.html", status_code=status_code, schedules=[view(r, page.now) for r in found],
        next_cursor=cursor, form=form, errors=errors, zones=ZONES,
        task_ids=[t["id"] for t in page.engine.list_tasks(page.env)],
        **cron_preview(form.get("cron", ""), form.get("timezone") or "UTC", page.now))


def create(page: Page) -> Response:
    """Create (or, with a known deduplication key, update) and open the schedule."""
    form = {name: page.field(name) for name in FIELDS}
    form["timezone"] = form["timezone"] or "UTC"
    errors = field_errors(page, form)
    if not errors:
        try:
            record, created = page.engine.schedules.create(
                page.env, task=form["task"], cron_text=form["cron"], timezone=form["timezone"],
                external_id=form["external_id"] or None,
                deduplication_key=form["deduplication_key"] or None)
        except OutlastError as exc:
            errors = {"form": exc.message}
    if errors:
        return _render_list(page, form, errors, status_code=422)
    verb = "Created" if created else "Updated"
    page.flash(f"{verb} the schedule of {record['task']}: {record['description']}.")
    return page.redirect(f"/schedules/{record['id']}")


def field_errors(page: Page, form: dict[str, str]) -> dict[str, str]:
    """What is wrong with each field, by field name; empty when all look right."""
    errors: dict[str, str] = {}
    if not form["task"]:
        errors["task"] = "Choose the task to trigger."
    else:
        try:
            page.engine.definition(page.env, form["task"])
        except TaskNotFoundError as exc:
            errors["task"] = exc.message
    for name, check in (("cron", cron.expand), ("timezone", cron.zone)):
        try:
            check(form[name])
        except ValidationError as exc:
            errors[name] = exc.message
    return errors


def preview(page: Page) -> Response:
    """The form's live preview: the cron read aloud and its next runs in the zone."""
    return page.render("_schedule_preview.html",
                       **cron_preview(page.q("cron"), page.q("timezone") or "UTC", page.now))


def cron_preview(text: str, tz: str, now: float) -> dict[str, Any]:
    if not text:
        return {"description": "", "error": "", "times": []}
    try:
        times = [zone_time(t.timestamp(), tz) for t in cron.upcoming(text, tz, now)]
        return {"description": cron.describe(text), "error": "", "times": times}
    except ValidationError as exc:
        return {"description": "", "error": exc.message, "times": []}


def schedule_page(page: Page) -> Response:
    schedule_id = page.request.path_params["schedule_id"]
    record = page.engine.schedules.retrieve(page.env, schedule_id)  # 404 page when unknown
    ticks = page.engine.schedules.ticks(page.env, schedule_id, limit=TICKS)
    for t in ticks:
        t["tick_text"] = zone_time(t["tick"], record["timezone"])
    return page.render("schedule.html", s=view(record, page.now), ticks=ticks,
                       skipped_total=sum(t["skipped"] for t in ticks))


def activate(page: Page) -> Response:
    record = page.engine.schedules.activate(page.env, page.request.path_params["schedule_id"])
    page.flash(f"Activated the schedule of {record['task']}; it fires next at "
               f"{zone_time(record['next_run'], record['timezone'])}.")
    return page.redirect(safe_next(page.field("back"), "/schedules"))


def deactivate(page: Page) -> Response:
    record = page.engine.schedules.deactivate(page.env, page.request.path_params["schedule_id"])
    page.flash(f"Paused the schedule of {record['task']}; no runs until it is activated.")
    return page.redirect(safe_next(page.field("back"), "/schedules"))
