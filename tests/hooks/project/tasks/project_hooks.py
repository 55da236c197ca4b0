"""Project-wide hooks declared in code, in a module the worker imports."""

from __future__ import annotations

from typing import Any

from tasks.recording import record

from outlast import LocalKey, hooks

#: made by the project's middleware, read by tasks
CLIENT = LocalKey("client", type=dict)


@hooks.middleware
def with_client(payload: Any, ctx: Any, next: Any) -> Any:
    record(ctx, "g:mw-in")
    ctx.locals.set(CLIENT, {"connected": True})
    try:
        return next()
    finally:
        record(ctx, "g:mw-out")


@hooks.init
def global_init(payload: Any, ctx: Any) -> str:
    record(ctx, "g:init")
    return "ignored: the task's own init gives ctx.init"


@hooks.cleanup
def global_cleanup(payload: Any, ctx: Any) -> None:
    record(ctx, "g:cleanup")


@hooks.on_complete
def global_complete(payload: Any, result: Any, ctx: Any) -> None:
    record(ctx, "g:on_complete", {"ok": result.ok, "status": result.status})
