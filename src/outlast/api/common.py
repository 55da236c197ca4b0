"""Helpers shared by the API handlers: reading bodies, query values and run requests.

Query values are checked here with ``outlast.inputs``' ranges, so a filter the store
cannot compare (``nan``, a NUL, an id past BIGINT) is a 400 naming it, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from outlast import inputs
from outlast.api.routes import ApiContext
from outlast.core.options import parse_options
from outlast.engine import NewRun
from outlast.engine.schemas import check_payload
from outlast.errors import ValidationError
from outlast.jsonutil import dumps


def body_object(body: Any, what: str = "request body") -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError(f"{what} must be a JSON object")
    return body


def new_run(ctx: ApiContext, env: str, task_id: str, item: dict[str, Any], now: float,
            batch_id: str | None = None, traceparent: str | None = None) -> NewRun:
    """A checked ``NewRun`` from ``{"payload": ..., "options": {...}}``, triggered in the
    trace context ``traceparent`` (checked by the caller).

    The payload is checked by the task's own code when this process has it loaded, else
    against the JSON schema its worker registered (typed tasks only).
    """
    inputs.text(task_id, "task")  # a body's task id (/batch) is not checked by routing
    unknown = set(item) - {"payload", "options", "task"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")
    payload = item.get("payload")
    local = ctx.registry.find(task_id) if ctx.registry is not None else None
    if local is not None:
        payload_json = local.codec.to_json(payload, task_id)
    else:
        check_payload(task_id, ctx.engine.definition(env, task_id).payload_schema, payload)
        payload_json = dumps(payload, limit=None)  # the engine checks the configured limit
    options = parse_options(body_object(item.get("options"), "options"), now)
    return NewRun(task_id, payload_json, options, batch_id=batch_id, traceparent=traceparent)


def number_or_time(value: str | None, name: str) -> float | None:
    """Query values given as epoch seconds or ISO-8601 with a zone (1970 to 9999)."""
    if value is None:
        return None
    try:
        return inputs.time(float(value), name)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name}: expected epoch seconds or an ISO-8601 time",
                              option=name) from None
    return inputs.time((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp(),
                       name)


def page_size(raw: str | None, default: int) -> int:
    """The ``limit`` query value: 1 to 1000."""
    return inputs.query_int(raw, "limit", default, 1, 1000)


def after_id(raw: str | None) -> int:
    """The ``after`` query value of event and log pages: an id (BIGINT), 0 for the start."""
    return inputs.query_int(raw, "after", 0, 0)
