"""``/batch``: trigger runs of several tasks in one transaction."""

from __future__ import annotations

from typing import Any

from outlast.api.common import RunRequests, body_object
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.api.tasks import batch_items, batch_json
from outlast.core.key_scopes import TRIGGER
from outlast.core.params import BatchManyBody
from outlast.core.records import BatchJson
from outlast.errors import ValidationError
from outlast.ids import new_id


def batch_trigger(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    now = ctx.engine.clock.now()
    batch_id = new_id("batch")
    requests = RunRequests(ctx, req.env, now, batch_id, req.traceparent)
    runs = []
    for raw in batch_items(req.body):
        item = body_object(raw, "item")
        task_id = item.get("task")
        if not isinstance(task_id, str) or not task_id:
            raise ValidationError("each item needs a 'task' id")
        runs.append(requests.new_run(task_id, item))
    done = ctx.engine.trigger_batch(req.env, runs)
    return 201, batch_json(batch_id, done)


ROUTES = [Route("POST", "/batch", batch_trigger, "Trigger runs of several tasks at once",
                body=BatchManyBody, returns=BatchJson, needs=TRIGGER)]
