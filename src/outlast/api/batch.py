"""``/batch``: trigger runs of several tasks in one transaction."""

from __future__ import annotations

from typing import Any

from outlast.api.common import RunRequests, body_object
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.api.tasks import batch_items, batch_json
from outlast.core.key_scopes import TRIGGER
from outlast.core.params import BatchManyBody
from outlast.core.records import BatchJson
from outlast.engine import NewRun
from outlast.errors import TaskNotFoundError, ValidationError, at_item
from outlast.ids import new_id


def batch_trigger(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    now = ctx.engine.clock.now()
    batch_id = new_id("batch")
    requests = RunRequests(ctx, req.env, now, batch_id, req.traceparent)
    runs = []
    for index, raw in enumerate(batch_items(req.body)):
        try:
            runs.append(_new_run(requests, raw))
        except (ValidationError, TaskNotFoundError) as error:
            raise at_item(error, index) from None
    done = ctx.engine.trigger_batch(req.env, runs)
    return 201, batch_json(batch_id, done)


def _new_run(requests: RunRequests, raw: Any) -> NewRun:
    """One item of a batch across tasks: ``{"task", "payload", "options"}``."""
    item = body_object(raw, "item")
    task_id = item.get("task")
    if not isinstance(task_id, str) or not task_id:
        raise ValidationError("each item needs a 'task' id")
    return requests.new_run(task_id, item)


ROUTES = [Route("POST", "/batch", batch_trigger, "Trigger runs of several tasks at once",
                body=BatchManyBody, returns=BatchJson, needs=TRIGGER)]
