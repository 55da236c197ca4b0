"""``/errors``: failed attempts grouped by task, error type and normalized message."""

from __future__ import annotations

from typing import Any

from outlast.api.routes import ApiContext, ApiRequest, Query, Route
from outlast.core.records import ErrorGroupDetailJson, ErrorGroupJson, Items


def list_groups(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    groups = ctx.engine.errors.list(req.env, req.q("window"), req.q("task"))
    return 200, {"data": groups}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.errors.get(req.env, req.params["fingerprint"], req.q("window"))


WINDOW = Query("window", "1h, 24h (default), 7d or 30d: counts and the chart cover it")

ROUTES = [
    Route("GET", "/errors", list_groups,
          "Error groups with a failed attempt in the window, the most failed attempts first",
          query=(WINDOW, Query("task", "Only this task's errors")), returns=Items[ErrorGroupJson]),
    Route("GET", "/errors/{fingerprint}", retrieve,
          "One error group: counts in the window, its newest occurrences and a stack",
          query=(WINDOW,), returns=ErrorGroupDetailJson),
]
