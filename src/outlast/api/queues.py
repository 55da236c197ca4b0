"""``/queues``: counts, pause and resume, limits changed at run time; the environment limit."""

from __future__ import annotations

from typing import Any

from outlast.api.common import body_object
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.params import EnvironmentLimitBody, QueueUpdateBody
from outlast.core.records import EnvironmentLimit, Items, QueueRecord
from outlast.errors import ValidationError


def list_queues(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, {"data": ctx.engine.queues.list(req.env)}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.queues.retrieve(req.env, req.params["name"])


def pause(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.queues.pause(req.env, req.params["name"])


def resume(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.queues.resume(req.env, req.params["name"])


def update(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """Override limits; ``null`` means no limit, ``reset`` lists overrides to drop."""
    data = dict(body_object(req.body))
    reset = data.pop("reset", None)
    if reset is not None and (not isinstance(reset, list)
                              or not all(isinstance(r, str) for r in reset)):
        raise ValidationError(f"reset must be a list of limit names, got {reset!r}")
    if not data and not reset:
        raise ValidationError("nothing to change: give concurrency_limit, total_limit, "
                              "rate_limit, key_rate_limit or reset")
    return 200, ctx.engine.queues.update(req.env, req.params["name"], data, reset=reset)


def environment_limit(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.queues.environment_limit(req.env)


def set_environment_limit(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    data = body_object(req.body)
    if set(data) != {"concurrency_limit"}:
        raise ValidationError("expected {\"concurrency_limit\": N} (null to clear)")
    return 200, ctx.engine.queues.set_environment_limit(req.env, data["concurrency_limit"])


ROUTES = [
    Route("GET", "/queues", list_queues, "List queues with queued and running counts and limits",
          returns=Items[QueueRecord]),
    Route("GET", "/environment/limit", environment_limit,
          "The environment-wide concurrency limit and how many runs execute",
          returns=EnvironmentLimit),
    Route("PUT", "/environment/limit", set_environment_limit,
          "Set the environment-wide concurrency limit (null: back to the configuration)",
          body=EnvironmentLimitBody, returns=EnvironmentLimit),
    Route("GET", "/queues/{name}", retrieve, "Retrieve a queue", returns=QueueRecord),
    Route("PATCH", "/queues/{name}", update,
          "Override a queue's limits at run time (null: no limit; reset: back to the code's)",
          body=QueueUpdateBody, returns=QueueRecord),
    Route("POST", "/queues/{name}/pause", pause, "Pause a queue: it starts no new runs",
          returns=QueueRecord),
    Route("POST", "/queues/{name}/resume", resume, "Resume a paused queue", returns=QueueRecord),
]
