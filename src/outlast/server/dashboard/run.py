"""One run (``/runs/{id}``): everything about it, live, and the actions on it."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response, StreamingResponse

from outlast.durations import parse_instant
from outlast.engine import trace as trace_spans
from outlast.engine.schemas import check_payload
from outlast.engine.statuses import RunStatus
from outlast.errors import (
    InvalidTransitionError,
    NotFoundError,
    OutlastError,
    TaskNotFoundError,
    ValidationError,
)
from outlast.jsonutil import dumps
from outlast.server.dashboard import format, timeline
from outlast.server.dashboard.web import Page

MAX_LOGS = trace_spans.MAX_LOGS
MAX_CHILDREN = 50
#: spans and log lines drawn before a "show all" link: a run with thousands of them keeps
#: a page that renders in a few tens of milliseconds (drawing 1,000 of each took ~200 ms)
SHOWN_SPANS = 100
SHOWN_LOGS = 100
#: the order of a move's choices: the current version first, retired ones last
STATE_ORDER = {"current": 0, "draining": 1, "retired": 2}


def run_page(page: Page) -> Response:
    return _render_run(page, page.request.path_params["run_id"])


def _render_run(page: Page, run_id: str, status_code: int = 200,
                action_error: dict[str, str] | None = None) -> Response:
    """The run page; ``action_error`` (an action on a parked run that was refused) is
    shown beside that action, and ``status_code`` is the refusal's (409, 400)."""
    # the run's last event before reading it: the live stream reports changes after that
    live_after = (page.engine.realtime.run_changes(page.env, run_id, 0)[1]
                  if page.dash.live else 0)
    records = page.engine.trace_records(page.env, run_id)  # 404 for other environments
    run, attempts, logs = records.run, records.attempts, records.logs
    history, history_total = page.engine.metadata.history(run_id)
    children, more_children = page.engine.list_runs(page.env, parent_id=run_id,
                                                    limit=MAX_CHILDREN)
    trace = trace_spans.build(records)
    shown_logs = len(logs) if page.q("logs") == "all" else SHOWN_LOGS
    return page.render("run.html", status_code=status_code, run=run, attempts=attempts,
                       action_error=action_error,
                       metadata_history=history, metadata_total=history_total,
                       move_targets=move_targets(page, run),
                       logs=logs, logs_by_attempt=group_logs(logs[:shown_logs]),
                       logs_hidden=max(0, len(logs) - shown_logs),
                       spans_shown=None if page.q("spans") == "all" else SHOWN_SPANS,
                       children=children,
                       more_children=more_children is not None,
                       trace=timeline.layout(trace, page.now, format.tone),
                       waiting=trace.waiting, logs_capped=len(logs) >= MAX_LOGS,
                       # a payload kept as a blob is not put in the form: left empty, a
                       # replay keeps it as it is
                       payload_text="" if run["payload_url"] else format.pretty_json(
                           run["payload"]),
                       live_after=live_after, live_mark=live_mark(page, run_id))


def download_payload(page: Page) -> Response:
    return download(page, "payload")


def download_output(page: Page) -> Response:
    return download(page, "output")


def download(page: Page, which: str) -> Response:
    """A run's payload or output as a JSON file, streamed (a blob's from the blob store)."""
    run_id = page.request.path_params["run_id"]
    chunks, size = page.engine.run_value(page.env, run_id, which)
    return StreamingResponse(chunks, media_type="application/json", headers={
        "content-length": str(size),
        "content-disposition": f'attachment; filename="{run_id}-{which}.json"'})


def move_targets(page: Page, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The versions a parked run can be moved to: those that have its task, but not the
    one it is on (nor the one that parked it: its code is what no longer matches).
    Retired ones come last; the page offers them disabled (no worker runs them)."""
    if run["status"] != RunStatus.PARKED.value:
        return []
    parked_on = run.get("version") or (run.get("parked") or {}).get("version")
    found = [v for v in page.engine.list_versions(page.env)
             if run["task"] in v["tasks"] and v["version"] != parked_on]
    return sorted(found, key=lambda v: (STATE_ORDER.get(v["state"], 3), -v["created_at"]))


def resume(page: Page) -> Response:
    """PARKED → QUEUED: it replays from its journal again (after matching code is out)."""
    run_id = page.request.path_params["run_id"]
    try:
        run = page.engine.parking.resume(page.env, run_id)
    except NotFoundError:
        raise  # no such run here: the usual message on the page it came from
    except OutlastError as exc:
        return _render_run(page, run_id, exc.http_status, {"action": "resume",
                                                           "message": exc.message})
    on = f" on version {run['version']}" if run.get("version") else ""
    page.flash(f"Resumed {run_id}: it is queued to replay its history{on}.")
    return page.redirect(f"/runs/{run_id}")


def move(page: Page) -> Response:
    """Pin a parked run to another version and queue it for that version's workers."""
    run_id = page.request.path_params["run_id"]
    version = page.field("version")
    try:
        if not version:
            raise ValidationError("Choose the version to move the run to.")
        page.engine.parking.move(page.env, run_id, version)
    except NotFoundError:
        raise
    except OutlastError as exc:
        return _render_run(page, run_id, exc.http_status, {"action": "move",
                                                           "message": exc.message})
    page.flash(f"Moved {run_id} to version {version}: it is queued for that version's "
               "workers.")
    return page.redirect(f"/runs/{run_id}")


def group_logs(logs: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    groups: dict[int, list[dict[str, Any]]] = {}
    for line in logs:
        groups.setdefault(line["attempt"], []).append(line)
    return sorted(groups.items())


def skip_wait(page: Page) -> Response:
    """End the run's sleeps now: it resumes as if their time had come."""
    run_id = page.request.path_params["run_id"]
    page.engine.skip_wait(page.env, run_id)
    page.flash(f"Skipped the wait of {run_id}: it is queued to go on.")
    return page.redirect(f"/runs/{run_id}")


def live_mark(page: Page, run_id: str) -> str:
    """Where the run's trace stood when the page was read, for the live stream (its steps
    and log lines change no run event): a change after it refreshes the page."""
    return page.engine.realtime.trace_mark(run_id) if page.dash.live else ""


def cancel(page: Page) -> Response:
    run_id = page.request.path_params["run_id"]
    try:
        page.engine.cancel(page.env, run_id)
    except InvalidTransitionError:
        raise outgrown(page, run_id, "unfinished runs can be canceled") from None
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
    available_at = parse_instant(delay, page.now, "delay")
    try:
        page.engine.reschedule(page.env, run_id, available_at)
    except InvalidTransitionError:
        raise outgrown(page, run_id, "delayed or queued runs can be rescheduled") from None
    page.flash(f"Rescheduled {run_id}.")
    return page.redirect(f"/runs/{run_id}")


def outgrown(page: Page, run_id: str, only: str) -> InvalidTransitionError:
    """The refusal of an action the run outgrew while its form was open (it finished, or
    started, since the page was drawn): what it is now, in words, rather than the
    engine's list of statuses and leases."""
    status = page.engine.retrieve(page.env, run_id)["status"]
    return InvalidTransitionError(f"Run {run_id} is already {status}: only {only}.",
                                  run_id=run_id)


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
