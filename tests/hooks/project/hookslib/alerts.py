"""Hooks declared in outlast.toml by import path (not a task file)."""

from __future__ import annotations

from typing import Any

from tasks.recording import record


def outer(payload: Any, ctx: Any, next: Any) -> Any:
    record(ctx, "toml:mw-in")
    try:
        return next()
    finally:
        record(ctx, "toml:mw-out")


def notify(payload: Any, error: Any, ctx: Any) -> None:
    record(ctx, "toml:on_failure", error["type"])
