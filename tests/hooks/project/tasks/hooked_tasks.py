"""Tasks whose hooks write what they saw (``recording``), for the lifecycle tests."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from tasks.project_hooks import CLIENT
from tasks.recording import record

from outlast import LocalKey, Retry, RetryDecision, task, wait

#: set by the task's own middleware, read by the task
TRACE = LocalKey[str]("trace")


def _hook(name: str) -> Any:
    def hook(payload: Any, ctx: Any) -> None:
        record(ctx, f"t:{name}")
    return hook


def _ending(name: str) -> Any:
    def hook(payload: Any, value: Any, ctx: Any) -> None:
        record(ctx, f"t:{name}", {"init": ctx.init})
    return hook


def _wait_hook(name: str) -> Any:
    def hook(payload: Any, wait_info: Any, ctx: Any) -> None:
        record(ctx, f"t:{name}:{wait_info.kind}:{'here' if wait_info.in_process else 'away'}")
    return hook


def task_middleware(payload: Any, ctx: Any, next: Any) -> Any:
    record(ctx, "t:mw-in")
    ctx.locals.set(TRACE, "from-middleware")
    output = next()
    record(ctx, "t:mw-out")
    return output


def _init(payload: Any, ctx: Any) -> dict[str, Any]:
    record(ctx, "t:init")
    return {"db": "handle"}


ALL = {"init": _init, "on_start": _hook("on_start"), "cleanup": _hook("cleanup"),
       "on_success": _ending("on_success"), "on_failure": _ending("on_failure"),
       "on_complete": _ending("on_complete"), "on_wait": _wait_hook("on_wait"),
       "on_resume": _wait_hook("on_resume"), "middleware": [task_middleware]}


def _note_handle_error(payload: Any, error: BaseException, ctx: Any) -> None:
    record(ctx, "t:handle_error", str(error))


@task(id="hooks-probe")
def probe(payload: Any) -> str:
    return "ok"


@task(id="hk-ordered", **ALL)
def ordered(payload: Any, ctx: Any) -> dict[str, Any]:
    record(ctx, "t:task")
    return {"init": ctx.init, "trace": TRACE.get(), "client": ctx.locals.get(CLIENT)}


@task(id="hk-async", **ALL)
async def ordered_async(payload: Any, ctx: Any) -> dict[str, Any]:
    record(ctx, "t:task")
    await wait.sleep_async(seconds=0.1)
    return {"init": ctx.init, "trace": TRACE.get()}


@task(id="hk-flaky", retry=Retry(max_attempts=3, min_delay=0.05, randomize=False),
      handle_error=_note_handle_error, **ALL)
def flaky(payload: Any, ctx: Any) -> int:
    record(ctx, "t:task")
    if ctx.attempt.number == 1:
        raise RuntimeError("first try fails")
    return ctx.attempt.number


@task(id="hk-fails", retry=Retry(max_attempts=1), **ALL)
def fails(payload: Any, ctx: Any) -> None:
    record(ctx, "t:task")
    raise ValueError("always")


@task(id="hk-waits", **ALL)
def waits(payload: Any, ctx: Any) -> str:
    record(ctx, "t:task")
    wait.sleep(seconds=0.1)                       # sat out in the process
    wait.sleep(seconds=5.5)                       # suspends the run
    token = wait.create_token(timeout="1h")
    answer = wait.for_token(token)                # suspends again, until completed
    return str(answer.output)


@task(id="hk-token", retry=Retry(max_attempts=1), **ALL)
def waits_for_a_token(payload: Any, ctx: Any) -> None:
    record(ctx, "t:task")
    wait.for_token(wait.create_token(timeout="1h"))


@task(id="hk-crashes", retry=Retry(max_attempts=1), **ALL)
def crashes(payload: Any, ctx: Any) -> None:
    record(ctx, "t:task")
    os._exit(3)


# -- hooks that fail -----------------------------------------------------------------------


def _raises(name: str) -> Any:
    def hook(*args: Any) -> None:
        raise RuntimeError(f"{name} broke")
    return hook


@task(id="hk-broken-hooks", on_start=_raises("on_start"), cleanup=_raises("cleanup"),
      on_success=_raises("on_success"), on_complete=_raises("on_complete"),
      on_wait=_raises("on_wait"), on_resume=_raises("on_resume"))
def broken_hooks(payload: Any) -> dict[str, Any]:
    wait.sleep(seconds=0.1)
    return {"kept": True}


@task(id="hk-broken-failure", retry=Retry(max_attempts=1), on_failure=_raises("on_failure"))
def broken_failure(payload: Any) -> None:
    raise ValueError("the task's own error")


@task(id="hk-broken-init", retry=Retry(max_attempts=1), init=_raises("init"),
      cleanup=_hook("cleanup"))
def broken_init(payload: Any, ctx: Any) -> None:
    record(ctx, "t:task")


def _forgets_next(payload: Any, ctx: Any, next: Any) -> None:
    record(ctx, "t:mw-forgot")


@task(id="hk-no-next", retry=Retry(max_attempts=1), middleware=[_forgets_next])
def no_next(payload: Any, ctx: Any) -> None:
    record(ctx, "t:task")


def _step_in_init(payload: Any, ctx: Any) -> None:
    from outlast import step

    step.run("not-here", lambda: 1)


@task(id="hk-durable-in-init", retry=Retry(max_attempts=1), init=_step_in_init)
def durable_in_init(payload: Any) -> None:
    pass


# -- handle_error's decisions --------------------------------------------------------------


def _decide(payload: Any, error: BaseException, ctx: Any) -> RetryDecision | None:
    how = payload["how"]
    if how == "at":
        return RetryDecision.at_time(datetime.fromtimestamp(payload["at"], UTC))
    if how == "after":
        return RetryDecision.after(payload["seconds"])
    if how == "machine":
        return RetryDecision.on_machine("large-1x")
    if how == "skip":
        return RetryDecision.skip()
    if how == "raise":
        raise RuntimeError("handle_error broke")
    return None


@task(id="hk-decides", retry=Retry(max_attempts=3, min_delay=0.05, randomize=False),
      handle_error=_decide)
def decides(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    if ctx.attempt.number == 1:
        raise RuntimeError("first attempt fails")
    return {"attempt": ctx.attempt.number, "machine": ctx.machine}


def in_a_second() -> float:
    return (datetime.now(UTC) + timedelta(seconds=1)).timestamp()
