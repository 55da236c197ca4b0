"""Run one attempt inside a child process: load, run, classify, report.

Split on purpose into those four steps; this is the path where job runners grow their
longest functions.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from outlast.clock import to_datetime
from outlast.core.retry import RetryDecision
from outlast.core.spans import attempt_span
from outlast.engine.attempts import PLATFORM_ERROR, Outcome, is_final_failure
from outlast.errors import AbortTaskRunError, OutlastError, ValidationError
from outlast.jsonutil import dumps
from outlast.observability import span
from outlast.sdk import streams
from outlast.sdk.context import AttemptInfo, QueueInfo, RunContext, RunInfo, TaskInfo
from outlast.sdk.durable import (
    DurableRun,
    HandBack,
    NonDeterminismError,
    Runtime,
    SuspendRun,
    current_run,
)
from outlast.sdk.logger import logger
from outlast.sdk.task import Task
from outlast.worker.capture import LogBuffer, captured
from outlast.worker.limits import memory_limit
from outlast.worker.messages import Assignment, Finished, HookJob, LogBatch

Send = Callable[[Any], None]


def build_context(run: dict[str, Any], attempt: int, environment: str) -> RunContext:
    return RunContext(
        run=RunInfo(
            id=run["id"], tags=tuple(json.loads(run["tags"])),
            created_at=to_datetime(run["created_at"]),  # type: ignore[arg-type]
            is_replay=run.get("replayed_from") is not None,
            metadata=json.loads(run["metadata"]), parent_id=run.get("parent_id"),
            root_id=run.get("root_id"), idempotency_key=run.get("idempotency_key"),
        ),
        attempt=AttemptInfo(number=attempt, max_attempts=run["max_attempts"]),
        task=TaskInfo(id=run["task_id"]),
        queue=QueueInfo(name=run["queue"]),
        environment=environment,
        machine=run["machine"],
    )


def error_info(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "stack": "".join(traceback.format_exception(exc))[-20_000:],
    }


def call_flexibly(fn: Callable[..., Any], *args: Any) -> Any:
    """Call ``fn`` with as many leading ``args`` as it accepts; await coroutines."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        count = len(args)
    else:
        count = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    result = fn(*args[:count])
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def _run_hook(task: Task[..., Any], name: str, *args: Any) -> None:
    hook = task.hooks.get(name)
    if hook is None:
        return
    # a failing hook is logged and never changes the run's result; nor does the database
    # staying away during a hook's SDK call (HandBack): the run's own outcome still stands
    try:
        call_flexibly(hook, *args)
    except (Exception, HandBack) as exc:
        logger.error(f"{name} hook failed: {exc!r}", hook=name)


def run_attempt(task: Task[..., Any], job: Assignment, send: Send,
                runtime: Runtime) -> Finished:
    """Execute one attempt of ``job`` with ``task``; never raises."""
    run = job.run
    buffer = LogBuffer(lambda records: send(LogBatch(run["id"], job.lease_id, job.attempt,
                                                               records)))
    ctx = build_context(run, job.attempt, job.environment)
    durable = DurableRun(run["id"], job.lease_id, job.attempt, job.environment, runtime,
                         journal=job.journal)
    started = time.monotonic()
    token = current_run.set(durable)
    try:
        with span(attempt_span(job.attempt), run_id=run["id"], task=task.id, attempt=job.attempt,
                  queue=run["queue"]) as current, captured(buffer):
            outcome = _execute(task, job, ctx, durable)
            _finish_streams(durable)
            if current is not None:
                current.set_attribute("outlast.outcome", outcome.kind)
    finally:
        current_run.reset(token)
    executed = time.monotonic() - started
    return Finished(run["id"], job.lease_id, job.attempt, outcome.kind, executed, outcome.output,
                    outcome.error, outcome.retry_override, outcome.hooks_done)


def _finish_streams(durable: DurableRun) -> None:
    """Write the attempt's buffered stream chunks before it reports how it ended."""
    try:
        streams.finish(durable)
    except (OutlastError, HandBack) as exc:  # lease gone or database away: not the run's
        logger.error(f"stream chunks were not written: {exc}")


def _execute(task: Task[..., Any], job: Assignment, ctx: RunContext,
             durable: DurableRun) -> Outcome:
    base = Outcome(job.run["id"], job.lease_id, job.attempt, "completed")
    try:
        payload = task.codec.from_json(json.loads(job.run["payload"]), task.id)
    except ValidationError as exc:
        durable.body_ended = True
        return _replace(base, kind="aborted", error=error_info(exc))
    ended = _body(task, job, payload, ctx, base)
    durable.body_ended = True  # how it ended, hooks and errors are this attempt's own lines
    if durable.mismatch is not None:  # whatever the code did with the exception
        return _parked(base, durable.mismatch)
    if isinstance(ended, Outcome):
        return ended
    if isinstance(ended, _Raised):
        return _failed(task, base, payload, ctx, ended.exc)
    _run_hook(task, "on_success", payload, ended.output, ctx)
    return _replace(base, output=ended.output, hooks_done=True)


@dataclass(frozen=True)
class _Returned:
    output: Any


@dataclass(frozen=True)
class _Raised:
    exc: BaseException


def _body(task: Task[..., Any], job: Assignment, payload: Any, ctx: RunContext,
          base: Outcome) -> Outcome | _Returned | _Raised:
    """Run ``on_start`` and the task: how it ended, before anything reacts to it (a replay
    mismatch must be seen before ``handle_error``, ``on_failure`` or ``on_success`` run)."""
    try:
        with memory_limit(job.memory_limit):
            _run_hook(task, "on_start", payload, ctx)
            output = _invoke(task, payload, ctx)
        dumps(output, f"output of task {task.id!r}", limit=None)  # sized by the engine
    except SuspendRun:
        return _replace(base, kind="suspended")
    except HandBack as exc:  # the database, not the task, failed: back to the queue uncharged
        return _replace(base, kind="platform_error",
                        error={"type": PLATFORM_ERROR, "message": str(exc)})
    except BaseException as exc:  # noqa: BLE001 - classify every way user code can end
        return _Raised(exc)
    return _Returned(output)


def _parked(base: Outcome, mismatch: NonDeterminismError) -> Outcome:
    """The code no longer matches the run's journal: the engine parks the run, uncharged,
    with no hook (``engine.parking``). The run's logs say so too."""
    logger.warning(f"the run is parked: {mismatch.message}")
    return _replace(base, kind="parked", hooks_done=True,
                    error={"type": type(mismatch).__name__, "message": mismatch.message,
                           **mismatch.details})


def _invoke(task: Task[..., Any], payload: Any, ctx: RunContext) -> Any:
    args = (payload, ctx) if task.wants_ctx else (payload,)
    if task.is_async:
        return asyncio.run(task.fn(*args))
    return task.fn(*args)


def _failed(task: Task[..., Any], base: Outcome, payload: Any, ctx: RunContext,
            exc: BaseException) -> Outcome:
    kind = _classify(exc)
    error = error_info(exc)
    if kind == "oom":
        error = {**error, "type": "OutOfMemory",
                 "message": f"the attempt ran out of memory on machine {ctx.machine!r}"}
    override = _handle_error(task, payload, exc, ctx) if kind == "failed" else None
    outcome = _replace(base, kind=kind, error=error, retry_override=override)
    if is_final_failure(outcome, ctx.attempt.max_attempts):
        _run_hook(task, "on_failure", payload, error, ctx)
        outcome = _replace(outcome, hooks_done=True)
    return outcome


def _classify(exc: BaseException) -> str:
    if isinstance(exc, AbortTaskRunError | ValidationError):
        return "aborted"
    if isinstance(exc, MemoryError):
        return "oom"
    return "failed"


def _handle_error(task: Task[..., Any], payload: Any, exc: BaseException,
                  ctx: RunContext) -> bool | float | None:
    if task.handle_error is None:
        return None
    try:
        decision = call_flexibly(task.handle_error, payload, exc, ctx)
    except Exception as hook_exc:
        logger.error(f"handle_error failed: {hook_exc!r}")
        return None
    if isinstance(decision, RetryDecision):
        return decision.delay if decision.retry and decision.delay is not None else (
            None if decision.retry else False)
    return None


def _replace(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)


def run_hook_job(task: Task[..., Any], job: HookJob, send: Send) -> None:
    """Call ``on_failure`` for a run that ended outside a child (cancel, expiry, crash)."""
    run = job.run
    buffer = LogBuffer(lambda records: send(LogBatch(run["id"], job.lease_id,
                                                     run["attempt_count"], records)))
    ctx = build_context(run, run["attempt_count"], job.environment)
    error = json.loads(run["error"]) if run.get("error") else {
        "type": run["status"], "message": f"run ended {run['status']}"}
    with captured(buffer):
        try:
            payload = task.codec.from_json(json.loads(run["payload"]), task.id)
        except ValidationError:
            payload = json.loads(run["payload"])
        _run_hook(task, job.hook, payload, error, ctx)
