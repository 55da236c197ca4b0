"""One run (``/runs/{id}``): everything about it, live, and the actions on it."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from outlast.durations import parse_instant
from outlast.engine.schemas import check_payload
from outlast.errors import TaskNotFoundError, ValidationError
from outlast.jsonutil import dumps
from outlast.server.dashboard import format, timeline
from outlast.server.dashboard.web import Page

MAX_EVENTS = 1000
MAX_LOGS = 1000
MAX_CHILDREN = 50


def run_page(page: Page) -> Response:
    run_id = page.request.path_params["run_id"]
    # the run's last event before reading it: the live stream reports changes after that
    live_after = (page.engine.realtime.run_changes(page.env, run_id, 0)[1]
                  if page.dash.live else 0)
    run = page.engine.retrieve(page.env, run_id)  # 404 page for other environments
    attempts = page.engine.attempts(run_id)
    events = page.engine.events(run_id, limit=MAX_EVENTS)
    logs = page.engine.logs(run_id, limit=MAX_LOGS)
    children, more_children = page.engine.list_runs(page.env, parent_id=run_id,
                                                    limit=MAX_CHILDREN)
    waterfall = timeline.build(run, attempts, events, children, page.now, format.tone)
    return page.render("run.html", run=run, attempts=attempts, events=events,
                       logs=logs, logs_by_attempt=group_logs(logs), children=children,
                       more_children=more_children is not None, waterfall=waterfall,
                       events_capped=len(events) >= MAX_EVENTS,
                       logs_capped=len(logs) >= MAX_LOGS,
                       payload_text=format.pretty_json(run["payload"]),
                       live_after=live_after)


def group_logs(logs: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for line in logs:
        groups.setdefault(line["attempt"], []).append(line)
    return sorted(groups.items())


def cancel(page: Page) -> Response:
    run_id = page.request.path_params["run_id"]
    page.engine.cancel(page.env, run_id)
    page.flash(f"Canceled {run_id}.")
    return page.redirect(f"/runs/{run_id}")


def replay(page: Page) -> Response:
    """A new run of the same task; with the edited payload when one was sent."""
    run_id = page.request.path_params["run_id"]
    payload_json = None
    text = page.field("payload")
    if text:
        payload = parse_json_field(text, "payload")
        run = page.engine.retrieve(page.env, run_id)
        check_against_schema(page, run["task"], payload)
        payload_json = dumps(payload)
    triggered = page.engine.replay(page.env, run_id, payload_json)
    page.flash(f"Replayed {run_id} as this new run.")
    return page.redirect(f"/runs/{triggered.row['id']}")


def reschedule(page: Page) -> Response:
    run_id = page.request.path_params["run_id"]
    delay = page.field("delay")
    if not delay:
        raise ValidationError("Give a delay such as 5m or 1h30m, or an ISO time with a zone.")
    page.engine.reschedule(page.env, run_id, parse_instant(delay, page.now, "delay"))
    page.flash(f"Rescheduled {run_id}.")
    return page.redirect(f"/runs/{run_id}")


def parse_json_field(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{name} is not valid JSON: {exc}") from None


def check_against_schema(page: Page, task_id: str, payload: Any) -> None:
    try:
        schema = page.engine.definition(page.env, task_id).payload_schema
    except TaskNotFoundError:
        return  # no worker registered it (any more): the replay itself will say so
    check_payload(task_id, schema, payload)
