"""``/tasks``: list tasks, trigger one, trigger a batch of one task."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from outlast.api.common import RunRequests, body_object, new_run
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.key_scopes import TRIGGER
from outlast.core.params import BatchBody, TriggerBody
from outlast.core.records import BatchJson, Items, TaskRecord, TriggeredJson
from outlast.engine.triggering import MAX_BATCH, PlainBatch, Triggered
from outlast.errors import ValidationError
from outlast.ids import new_id


def triggered_json(t: Triggered) -> dict[str, Any]:
    return {"id": t.row["id"], "task": t.row["task_id"], "created": t.created,
            "status": t.row["status"]}


def batch_json(batch_id: str, done: list[Triggered]) -> dict[str, Any]:
    """A batch's answer: each run as ``triggered_json`` gives it, written inline (a call
    per run was half of the work on a thousand)."""
    return {"batch_id": batch_id, "runs": [
        {"id": row["id"], "task": row["task_id"], "created": created, "status": row["status"]}
        for row, created in done]}


def trigger(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    now = ctx.engine.clock.now()
    run = new_run(ctx, req.env, req.params["task_id"], body, now, traceparent=req.traceparent)
    triggered = ctx.engine.trigger(req.env, run)
    return (201 if triggered.created else 200), triggered_json(triggered)


def batch_trigger(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """The batch's answer, made by ``req.shape`` when given (in process: the SDK's handles).
    A ``PlainBatch``'s is made once its last run's row is (``PlainBatch.made``): in
    process, while the database inserts the rows, where it waited for the commit."""
    items = batch_items(req.body)
    now = ctx.engine.clock.now()
    batch_id = new_id("batch")
    requests = RunRequests(ctx, req.env, now, batch_id, req.traceparent)
    task_id = req.params["task_id"]
    shape = req.shape

    def answer(done: list[Triggered]) -> Any:
        data = batch_json(batch_id, done)
        return data if shape is None else shape(data)

    made: list[Any] = []
    batch = requests.batch(task_id, items)
    if isinstance(batch, PlainBatch):
        batch = replace(batch, made=lambda done: made.append(answer(done)))
    done = ctx.engine.trigger_batch(req.env, batch)
    return 201, made[0] if made else answer(done)


def batch_items(body: Any) -> list[Any]:
    """A batch body's items: ``{"items": [...]}`` and nothing else (a misspelled field
    beside them would otherwise be dropped without a word)."""
    body = body_object(body)
    if len(body) > 1 or "items" not in body and body:
        unknown = set(body) - {"items"}
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))} (expected "
                              "'items')")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise ValidationError("items must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise ValidationError(f"a batch holds at most {MAX_BATCH} items, got {len(items)}")
    return items


def list_tasks(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, {"data": ctx.engine.list_tasks(req.env)}


#: ``LocalApi.trigger`` calls it without matching a path
TRIGGER_ROUTE = Route("POST", "/tasks/{task_id}/trigger", trigger, "Trigger a run of a task",
                      body=TriggerBody, returns=TriggeredJson, needs=TRIGGER)

#: ``LocalApi.batch_trigger`` calls it without matching a path
BATCH_ROUTE = Route("POST", "/tasks/{task_id}/batch", batch_trigger,
                    "Trigger up to 1,000 runs of a task", body=BatchBody, returns=BatchJson,
                    needs=TRIGGER)

ROUTES = [
    Route("GET", "/tasks", list_tasks, "List registered tasks", returns=Items[TaskRecord]),
    TRIGGER_ROUTE,
    BATCH_ROUTE,
]
