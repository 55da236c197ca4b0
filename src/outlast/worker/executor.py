"""Run one attempt inside a child process: load, run, classify, report.

Split on purpose into those four steps; this is the path where job runners grow their
longest functions.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from outlast.clock import to_datetime
from outlast.core.outcomes import PLATFORM_ERROR, Outcome, OutcomeKind, is_final_failure
from outlast.core.retry import RetryDecision
from outlast.core.spans import attempt_span
from outlast.errors import AbortTaskRunError, OutlastError, ValidationError
from outlast.jsonutil import dumps
from outlast.observability import mark_failed, span
from outlast.sdk import locals as locals_of
from outlast.sdk import streams
from outlast.sdk.context import AttemptInfo, QueueInfo, RunContext, RunInfo, TaskInfo
from outlast.sdk.durable import (
    AsyncRuntime,
    DurableRun,
    HandBack,
    NonDeterminismError,
    RecordAhead,
    Runtime,
    SuspendRun,
    current_run,
)
from outlast.sdk.locals import Locals

__all__ = ["LazyContext", "attempt_ended", "attempt_traced", "build_context",
           "call_flexibly", "decoded", "error_info", "finish_streams", "finished",
           "outcome_error", "outcome_of", "parked", "prepare", "run_attempt", "run_hook_job",
           "with_decision"]
from outlast.sdk.logger import logger
from outlast.sdk.task import Task
from outlast.worker import lease_clock
from outlast.worker.calling import call_flexibly
from outlast.worker.capture import LogBuffer, captured
from outlast.worker.lifecycle import Lifecycle
from outlast.worker.limits import memory_limit
from outlast.worker.messages import Assignment, Finished, HookJob, LogBatch

Send = Callable[[Any], None]
RunAsync = Callable[[Coroutine[Any, Any, Any]], Any]


def build_context(run: dict[str, Any], attempt: int, environment: str,
                  values: Locals | None = None) -> RunContext:
    """The run's context; ``values``: its locals, when they were bound before it was made
    (an attempt makes it only when something reads it: ``Lifecycle.ctx``)."""
    return RunContext(
        run=RunInfo(
            id=run["id"], tags=() if run["tags"] == "[]" else tuple(json.loads(run["tags"])),
            created_at=to_datetime(run["created_at"]),  # type: ignore[arg-type]
            is_replay=run.get("replayed_from") is not None,
            metadata={} if run["metadata"] == "{}" else json.loads(run["metadata"]),
            parent_id=run.get("parent_id"),
            root_id=run.get("root_id"), idempotency_key=run.get("idempotency_key"),
        ),
        attempt=AttemptInfo(number=attempt, max_attempts=run["max_attempts"]),
        task=TaskInfo(id=run["task_id"]),
        queue=QueueInfo(name=run["queue"]),
        environment=environment,
        machine=run["machine"],
        locals=Locals() if values is None else values,
    )


def error_info(exc: BaseException) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "stack": "".join(traceback.format_exception(exc))[-20_000:],
    }


def run_attempt(task: Task[..., Any], job: Assignment, send: Send,
                runtime: Runtime, ahead: RecordAhead | None = None,
                run_async: RunAsync = asyncio.run) -> Finished:
    """Execute one attempt of ``job`` with ``task``; never raises. ``ahead``: where its
    steps' results are recorded without waiting (a worker's child), if anywhere;
    ``run_async``: what runs an async task's body (a child's lasting loop)."""
    buffer, ctx, durable = prepare(job, send, runtime, ahead)
    started = time.monotonic()
    token, values = current_run.set(durable), locals_of.bind(ctx.values)
    try:
        with attempt_traced(task, job) as current, captured(buffer):
            outcome = _execute(task, job, ctx, durable, run_async)
            attempt_ended(current, outcome, durable)
    finally:
        locals_of.unbind(values)
        current_run.reset(token)
    return finished(job, outcome, time.monotonic() - started)


class LazyContext:
    """An attempt's locals, bound as it starts, and what makes its run context when
    first read (``Lifecycle.ctx``): most attempts never read it."""

    __slots__ = ("job", "values")

    def __init__(self, job: Assignment) -> None:
        self.job = job
        self.values = Locals()

    def __call__(self) -> RunContext:
        return build_context(self.job.run, self.job.attempt, self.job.environment,
                             self.values)


def prepare(job: Assignment, send: Send, runtime: Runtime, ahead: RecordAhead | None,
            aruntime: AsyncRuntime | None = None) -> tuple[LogBuffer, LazyContext,
                                                             DurableRun]:
    """An attempt's log buffer, run context (made when read) and durable state."""
    run = job.run
    buffer = LogBuffer(lambda records: send(LogBatch(run["id"], job.lease_id, job.attempt,
                                                     records)))
    ctx = LazyContext(job)
    lease = lease_clock.guard(job.held_until)
    durable = DurableRun(run["id"], job.lease_id, job.attempt, job.environment, runtime,
                         journal=job.journal, ahead=ahead, aruntime=aruntime,
                         lease=None if lease is None else lease.held)
    return buffer, ctx, durable


def attempt_traced(task: Task[..., Any], job: Assignment) -> Any:
    """The attempt's span, under the trigger's trace (or, with none, its own)."""
    run = job.run
    return span(attempt_span(job.attempt), run.get("traceparent") or "", run_id=run["id"],
                task=task.id, attempt=job.attempt, queue=run["queue"])


def attempt_ended(current: Any, outcome: Outcome, durable: DurableRun) -> None:
    """Write the attempt's buffered stream chunks and mark its span with how it ended."""
    finish_streams(durable)
    if current is not None:
        current.set_attribute("outlast.outcome", outcome.kind)
    if outcome.error is not None:  # a suspension has none: waiting is no error
        mark_failed(current, outcome.error)


def finished(job: Assignment, outcome: Outcome, executed: float) -> Finished:
    """The child's report of how the attempt ended."""
    return Finished(job.run["id"], job.lease_id, job.attempt, outcome.kind, executed,
                    outcome.output, outcome.error, outcome.retry_override, outcome.hooks_done,
                    outcome.retry_at, outcome.retry_machine, outcome.hook_errors)


def finish_streams(durable: DurableRun) -> None:
    """Write the attempt's buffered stream chunks before it reports how it ended."""
    try:
        streams.finish(durable)
    except (OutlastError, HandBack) as exc:  # lease gone or database away: not the run's
        logger.error(f"stream chunks were not written: {exc}")


def _execute(task: Task[..., Any], job: Assignment, ctx: LazyContext,
             durable: DurableRun, run_async: RunAsync) -> Outcome:
    refused, payload = decoded(task, job, durable)
    if refused is not None:
        return refused
    life = Lifecycle(task, payload, ctx, durable, run_async)
    durable.listener = life
    ended = _body(task, job, life)
    durable.body_ended = True  # how it ended, hooks and errors are this attempt's own lines
    durable.listener = None
    outcome = _ending(life, job, ended, durable.mismatch)
    return _replace(outcome, hook_errors=tuple(life.errors)) if life.errors else outcome


def outcome_of(job: Assignment, kind: OutcomeKind, **fields: Any) -> Outcome:
    """``job``'s attempt ended ``kind``, with ``fields`` (``Outcome``'s)."""
    return Outcome(job.run["id"], job.lease_id, job.attempt, kind, **fields)


def decoded(task: Task[..., Any], job: Assignment,
            durable: DurableRun) -> tuple[Outcome | None, Any]:
    """None and the attempt's payload decoded; or how the attempt ended before it started,
    and None: ``aborted`` when the payload does not fit, ``platform_error`` when the lease
    may have lapsed (it waited in the child's pipe while its worker could not renew it)."""
    try:
        durable.check_lease("the attempt")
    except HandBack as exc:
        durable.body_ended = True
        return outcome_of(job, "platform_error",
                          error={"type": PLATFORM_ERROR, "message": str(exc)}), None
    text = job.run["payload"]
    try:  # most runs have no payload: "null" needs no parser
        return None, task.codec.from_json(None if text == "null" else json.loads(text),
                                          task.id)
    except ValidationError as exc:
        durable.body_ended = True
        return outcome_of(job, "aborted", error=error_info(exc)), None


def _ending(life: Lifecycle, job: Assignment, ended: Outcome | _Returned | _Raised,
            mismatch: NonDeterminismError | None) -> Outcome:
    if mismatch is not None:  # whatever the code did with the exception
        return parked(job, mismatch)
    if isinstance(ended, Outcome):
        return ended
    if isinstance(ended, _Raised):
        return _failed(life, job, ended.exc)
    life.completed(ended.output)
    return outcome_of(job, "completed", output=ended.output, hooks_done=True)


@dataclass(frozen=True)
class _Returned:
    output: Any


@dataclass(frozen=True)
class _Raised:
    exc: BaseException


def _body(task: Task[..., Any], job: Assignment,
          life: Lifecycle) -> Outcome | _Returned | _Raised:
    """Run middleware, ``init``, ``on_start``, the task and ``cleanup``: how it ended,
    before anything reacts to it (a replay mismatch must be seen before ``handle_error``,
    ``on_failure`` or ``on_success`` run)."""
    try:
        with memory_limit(job.memory_limit):
            output = life.run()
        dumps(output, f"output of task {task.id!r}", limit=None)  # sized by the engine
    except SuspendRun:
        return outcome_of(job, "suspended")
    except HandBack as exc:  # the database, not the task, failed: back to the queue uncharged
        return outcome_of(job, "platform_error",
                          error={"type": PLATFORM_ERROR, "message": str(exc)})
    except BaseException as exc:  # noqa: BLE001 - classify every way user code can end
        return _Raised(exc)
    return _Returned(output)


def parked(job: Assignment, mismatch: NonDeterminismError) -> Outcome:
    """The code no longer matches the run's journal: the engine parks the run, uncharged,
    with no hook (``engine.parking``). The run's logs say so too."""
    logger.warning(f"the run is parked: {mismatch.message}")
    return outcome_of(job, "parked", hooks_done=True,
                      error={"type": type(mismatch).__name__, "message": mismatch.message,
                           **mismatch.details})


def outcome_error(exc: BaseException, machine: str) -> tuple[OutcomeKind, dict[str, Any]]:
    """How an attempt that raised ``exc`` ended, and the error it records."""
    kind = _classify(exc)
    error = error_info(exc)
    if kind == "oom":
        error = {**error, "type": "OutOfMemory",
                 "message": f"the attempt ran out of memory on machine {machine!r}"}
    return kind, error


def _failed(life: Lifecycle, job: Assignment, exc: BaseException) -> Outcome:
    kind, error = outcome_error(exc, life.ctx.machine)
    decision = life.retry_decision(exc) if kind == "failed" else None
    outcome = with_decision(outcome_of(job, kind, error=error), decision)
    if is_final_failure(outcome, life.ctx.attempt.max_attempts):
        life.ended(error, "CRASHED" if kind == "oom" else "FAILED")
        outcome = _replace(outcome, hooks_done=True)
    return outcome


def with_decision(outcome: Outcome, decision: RetryDecision | None) -> Outcome:
    """What ``handle_error`` decided, in the outcome the engine applies."""
    if decision is None:
        return outcome
    if not decision.retry:
        return _replace(outcome, retry_override=False)
    return _replace(outcome, retry_override=decision.delay, retry_at=decision.timestamp(),
                    retry_machine=decision.machine)


def _classify(exc: BaseException) -> OutcomeKind:
    if isinstance(exc, AbortTaskRunError | ValidationError):
        return "aborted"
    if isinstance(exc, MemoryError):
        return "oom"
    return "failed"


def _replace(outcome: Outcome, **changes: Any) -> Outcome:
    return replace(outcome, **changes)


def run_hook_job(task: Task[..., Any], job: HookJob, send: Send) -> list[dict[str, Any]]:
    """Call ``on_failure`` and ``on_complete`` for a run that ended outside a child
    (cancel, expiry, crash, timeout); the hooks' own errors."""
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
        life = Lifecycle(task, payload, ctx)
        life.ended(error, run["status"])
    return life.errors
