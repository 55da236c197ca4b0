"""One attempt of an async task as a coroutine, beside others on a child's one loop.

``executor.run_attempt`` runs an attempt from start to end and only then returns, so a
child running it does nothing else meanwhile: one process per run in flight. An async
task's runs need not hold a process each (a hundred runs each awaiting an LLM call
should not take a hundred processes), so a child may run several of them at once as
tasks of its loop (``shared_runs.py``). This is the same load → run → classify → report
path, awaited: the task's body, ``handle_error`` and the final hooks run on the shared
loop, and the attempt's log lines go to its own run however the lines of the attempts
beside it interleave (``capture.routed``).

What sharing a process gives up is said where a user chooses it (the worker's
``async_slots``): an attempt that calls ``os._exit`` or crashes the interpreter ends the
others with it, and one that blocks the loop (CPU work, a sync call) holds them all up.
An attempt stopped from outside (its run canceled, its ``max_duration`` spent) is
cancelled as an asyncio task: ``asyncio.CancelledError`` goes through the task's
``finally`` blocks and ``cleanup`` hooks and out of here, and the caller says why.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from outlast.core.outcomes import PLATFORM_ERROR, Outcome, is_final_failure
from outlast.jsonutil import dumps
from outlast.sdk import locals as locals_of
from outlast.sdk.durable import (
    AsyncRuntime,
    DurableRun,
    HandBack,
    RecordAhead,
    Runtime,
    SuspendRun,
    current_run,
)
from outlast.sdk.task import Task
from outlast.worker.capture import routed
from outlast.worker.executor import (
    LazyContext,
    Send,
    attempt_ended,
    attempt_traced,
    decoded,
    finished,
    outcome_error,
    outcome_of,
    parked,
    prepare,
    with_decision,
)
from outlast.worker.lifecycle import Lifecycle
from outlast.worker.messages import Assignment, Finished


async def arun_attempt(task: Task[..., Any], job: Assignment, send: Send, runtime: Runtime,
                       ahead: RecordAhead | None = None,
                       aruntime: AsyncRuntime | None = None) -> Finished:
    """Execute one attempt of ``job`` with the async ``task`` on the running loop.

    Never raises, except ``asyncio.CancelledError`` when the attempt was cancelled from
    outside (the caller knows why and reports it). Runs in an asyncio task of its own:
    the context variables it sets (the running attempt, its locals, where its output goes)
    are that task's, so the attempts beside it never see them. ``aruntime``: where its
    durable requests are awaited rather than asked (``DurableRun.aask``)."""
    buffer, ctx, durable = prepare(job, send, runtime, ahead, aruntime)
    started = time.monotonic()
    current_run.set(durable)  # this task's context only: no reset needed
    locals_of.bind(ctx.values)
    with attempt_traced(task, job) as current, routed(buffer):
        outcome = await _execute(task, job, ctx, durable)
        attempt_ended(current, outcome, durable)
    return finished(job, outcome, time.monotonic() - started)


async def _execute(task: Task[..., Any], job: Assignment, ctx: LazyContext,
                   durable: DurableRun) -> Outcome:
    refused, payload = decoded(task, job, durable)
    if refused is not None:
        return refused
    life = Lifecycle(task, payload, ctx, durable)
    durable.listener = life
    try:
        ended = await _body(task, job, life)
    finally:
        durable.body_ended = True
        durable.listener = None
    if durable.mismatch is not None:  # whatever the code did with the exception
        outcome = parked(job, durable.mismatch)
    elif isinstance(ended, Outcome):
        outcome = ended
    elif isinstance(ended, BaseException):
        outcome = await _failed(life, job, ended)
    else:
        await life.acompleted(ended[0])
        outcome = outcome_of(job, "completed", output=ended[0], hooks_done=True)
    return replace(outcome, hook_errors=tuple(life.errors)) if life.errors else outcome


async def _body(task: Task[..., Any], job: Assignment,
                life: Lifecycle) -> Outcome | BaseException | tuple[Any]:
    """How the body ended: an outcome of its own (suspended, handed back), the exception
    it raised, or ``(output,)``. A cancellation from outside goes on up."""
    try:
        output = await life.arun()
        dumps(output, f"output of task {task.id!r}", limit=None)  # sized by the engine
    except SuspendRun:
        return outcome_of(job, "suspended")
    except HandBack as exc:
        return outcome_of(job, "platform_error",
                          error={"type": PLATFORM_ERROR, "message": str(exc)})
    except asyncio.CancelledError as exc:
        if _cancelled_from_outside():
            raise
        return exc
    except BaseException as exc:  # noqa: BLE001 - classify every way user code can end
        return exc
    return (output,)


def _cancelled_from_outside() -> bool:
    """Is this task being cancelled (``Task.cancel``), rather than the task's code having
    raised ``CancelledError`` of its own (an inner timeout it let through)?"""
    current = asyncio.current_task()
    return current is not None and current.cancelling() > 0


async def _failed(life: Lifecycle, job: Assignment, exc: BaseException) -> Outcome:
    kind, error = outcome_error(exc, life.ctx.machine)
    decision = await life.aretry_decision(exc) if kind == "failed" else None
    outcome = with_decision(outcome_of(job, kind, error=error), decision)
    if is_final_failure(outcome, life.ctx.attempt.max_attempts):
        await life.aended(error, "CRASHED" if kind == "oom" else "FAILED")
        outcome = replace(outcome, hooks_done=True)
    return outcome
