"""Calling user functions that may be ``def`` or ``async def``, from sync or async code.

A hook's coroutine is run to its end wherever it is met: with ``asyncio.run`` when no
event loop runs in this thread, else on a loop of its own in a helper thread (a sync hook
or middleware called from inside an async task's loop cannot block that loop on itself).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any


def leading_args(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """As many leading ``args`` as ``fn`` accepts positionally (a hook may skip ``ctx``)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return args
    count = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    return args[:count]


def call_flexibly(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with as many leading ``args`` as it accepts; run coroutines to the end."""
    return resolve(fn(*leading_args(fn, args)))


async def acall_flexibly(fn: Callable[..., Any], *args: Any) -> Any:
    """``call_flexibly`` in async code: a coroutine is awaited on the running loop."""
    result = fn(*leading_args(fn, args))
    if inspect.isawaitable(result):
        result = await result
    return result


def resolve(result: Any) -> Any:
    """``result``, or what it ends with when it is a coroutine."""
    if not inspect.iscoroutine(result):
        return result
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(result)
    return _in_helper_thread(result)


def _in_helper_thread(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` on a fresh loop in another thread, with this thread's context (the
    running attempt, its locals), and wait for it."""
    context = contextvars.copy_context()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = context.run(asyncio.run, coro)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="outlast-hook-loop")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")
