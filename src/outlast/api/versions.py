"""``/versions``: which versions of the code an environment has, promote and retire them."""

from __future__ import annotations

from typing import Any

from outlast.api.routes import ApiContext, ApiRequest, Route
from outlast.core.records import Items, VersionRecord


def list_versions(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, {"data": ctx.engine.list_versions(req.env)}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.get_version(req.env, req.params["version"])


def promote(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.promote(req.env, req.params["version"])


def retire(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.retire(req.env, req.params["version"])


ROUTES = [
    Route("GET", "/versions", list_versions,
          "List versions with their tasks, live workers, pinned unfinished runs and whether "
          "their workers are safe to stop", returns=Items[VersionRecord]),
    Route("GET", "/versions/{version}", retrieve,
          "Retrieve a version with its task definitions and live workers",
          returns=VersionRecord),
    Route("POST", "/versions/{version}/promote", promote,
          "Make a version current (new runs go to it); the current one drains",
          returns=VersionRecord),
    Route("POST", "/versions/{version}/retire", retire,
          "Retire a version; refused (409) while it is current or runs are pinned to it",
          returns=VersionRecord),
]
