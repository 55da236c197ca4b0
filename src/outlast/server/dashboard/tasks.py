"""Tasks (``/tasks``): every registered task with recent health, and a test form that
triggers one with a JSON payload checked the way the HTTP API checks it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from outlast.api.common import new_run
from outlast.api.routes import ApiContext
from outlast.errors import ValidationError
from outlast.server.dashboard import data
from outlast.server.dashboard.format import pretty_json
from outlast.server.dashboard.run import parse_json_field
from outlast.server.dashboard.web import Page

RECENT = 10


def tasks_page(page: Page) -> Response:
    return page.render("tasks.html", tasks=data.tasks_with_stats(page.engine, page.env))


def task_page(page: Page) -> Response:
    task_id = page.request.path_params["task_id"]
    definition = page.engine.definition(page.env, task_id)  # 404 page when unknown
    recent, _ = page.engine.list_runs(page.env, task=task_id, limit=RECENT)
    payload = page.q("payload") or example_payload(definition.payload_schema, recent)
    return page.render("task.html", task=definition.to_dict(), recent=recent,
                       payload_text=payload)


def example_payload(schema: dict[str, Any] | None, recent: list[dict[str, Any]]) -> str:
    """The last run's payload, else a skeleton of the schema's required fields, else {}."""
    if recent:
        return pretty_json(recent[0]["payload"])
    props = (schema or {}).get("properties") or {}
    required = (schema or {}).get("required") or []
    samples = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": [],
               "object": {}}
    skeleton = {name: samples.get(str(props.get(name, {}).get("type")))
                for name in required}
    return pretty_json(skeleton)


def test_trigger(page: Page) -> Response:
    """Trigger and open the new run; on a refusal, come back with the payload as typed."""
    task_id = page.request.path_params["task_id"]
    try:
        return _trigger(page, task_id)
    except ValidationError as exc:
        page.flash(exc.message, "error")
        query = urlencode({"payload": page.field("payload")})
        return page.redirect(f"/tasks/{quote(task_id, safe='')}?{query}#test")


def _trigger(page: Page, task_id: str) -> Response:
    payload = parse_json_field(page.field("payload") or "null", "payload")
    options: dict[str, Any] = {}
    tags = [t.strip() for t in page.field("tags").split(",") if t.strip()]
    if tags:
        options["tags"] = tags
    if page.field("delay"):
        options["delay"] = page.field("delay")
    ctx = ApiContext(engine=page.engine, registry=page.dash.registry)
    request = new_run(ctx, page.env, task_id, {"payload": payload, "options": options},
                      page.now)
    triggered = page.engine.trigger(page.env, request)
    page.flash(f"Triggered {task_id}.")
    return page.redirect(f"/runs/{triggered.row['id']}")
