"""``/schedules``: create, list, read, change, pause, resume and delete cron schedules."""

from __future__ import annotations

from typing import Any

from outlast import inputs
from outlast.api.common import body_object, page_size
from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.params import ScheduleChanges, ScheduleCreateBody
from outlast.core.records import Items, Page, ScheduleJson, ScheduleTick
from outlast.errors import ValidationError

_CREATE = {"task", "cron", "timezone", "external_id", "deduplication_key"}
_UPDATE = {"task", "cron", "timezone", "external_id"}
_OPTIONAL = {"external_id", "deduplication_key"}


def _fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    """The body's fields, each a string (``external_id`` and ``deduplication_key`` may be null)."""
    data = body_object(body)
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}; "
                              f"expected some of {', '.join(sorted(allowed))}")
    for name, value in data.items():
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{name} must be a non-empty string, got {value!r}",
                                  option=name)
        inputs.text(value, name)
    return data


def create(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    data = _fields(req.body, _CREATE)
    for name in ("task", "cron"):
        if name not in data:
            raise ValidationError(f"a schedule needs {name!r}")
    record, created = ctx.engine.schedules.create(
        req.env, task=data["task"], cron_text=data["cron"],
        timezone=data.get("timezone") or "UTC", external_id=data.get("external_id"),
        deduplication_key=data.get("deduplication_key"))
    return (201 if created else 200), record


def list_schedules(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    found, cursor = ctx.engine.schedules.list(req.env, task=req.q("task"),
                                              limit=page_size(req.q("limit"), 100),
                                              cursor=req.q("cursor"))
    return 200, {"data": found, "next_cursor": cursor}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.schedules.retrieve(req.env, req.params["schedule_id"])


def update(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    changes = _fields(req.body, _UPDATE)
    return 200, ctx.engine.schedules.update(req.env, req.params["schedule_id"], **changes)


def delete(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.schedules.delete(req.env, req.params["schedule_id"])


def activate(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.schedules.activate(req.env, req.params["schedule_id"])


def deactivate(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.schedules.deactivate(req.env, req.params["schedule_id"])


def ticks(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, {"data": ctx.engine.schedules.ticks(req.env, req.params["schedule_id"])}


ROUTES = [
    Route("GET", "/schedules", list_schedules, "List cron schedules",
          returns=Page[ScheduleJson]),
    Route("POST", "/schedules", create,
          "Create a schedule (an existing deduplication_key updates it instead)",
          body=ScheduleCreateBody, returns=ScheduleJson),
    Route("GET", "/schedules/{schedule_id}", retrieve, "Retrieve a schedule",
          returns=ScheduleJson),
    Route("PATCH", "/schedules/{schedule_id}", update, "Change a schedule's cron, zone or task",
          body=ScheduleChanges, returns=ScheduleJson),
    Route("DELETE", "/schedules/{schedule_id}", delete, "Delete a schedule",
          returns=ScheduleJson),
    Route("POST", "/schedules/{schedule_id}/activate", activate, "Resume a schedule",
          returns=ScheduleJson),
    Route("POST", "/schedules/{schedule_id}/deactivate", deactivate, "Pause a schedule",
          returns=ScheduleJson),
    Route("GET", "/schedules/{schedule_id}/ticks", ticks,
          "A schedule's latest fired and skipped ticks", returns=Items[ScheduleTick]),
]
