"""One execution of an attempt with its hooks and middleware, in the documented order.

Middleware (the project's, then the task's; the first listed is outermost) wraps ``init``
→ ``on_start`` → the task → ``cleanup``; ``on_wait`` / ``on_resume`` fire around the waits
the task meets (``DurableRun`` tells its ``listener``, this object). After the body the
executor asks ``handle_error`` (on a failure) and calls the final-state hooks
(``on_success`` or ``on_failure``, then ``on_complete``) through ``completed`` / ``ended``.

Per execution, not per attempt number: an attempt that suspends ends there and resumes by
replay in a new process, where middleware, ``init`` and ``cleanup`` run again (what they
made went with the old process). An async task's body, hooks and middleware share one
event loop; after it the final hooks run as any sync caller runs them.

A hook's own error is logged at ERROR naming the hook and collected in ``errors`` (the
engine appends a ``hook_error`` run event for each); it never changes how the run ends.
Middleware and ``init`` are the exception: they are part of the attempt, so their error
fails it like the task's. Hooks that run inside the attempt may not start durable
operations (``DurableRun.hook``): a run's journal depends on the task alone, whatever
hooks a worker or a replay (``outlast deploy --check``) runs around it. ``on_start`` keeps
its older licence: it runs on every replay, so its durable operations count.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from outlast.core.retry import RetryDecision
from outlast.errors import OutlastError
from outlast.sdk import hooks as project_hooks
from outlast.sdk.children import TaskRunResult
from outlast.sdk.context import RunContext
from outlast.sdk.durable import DurableRun, HandBack
from outlast.sdk.hooks import Hook, WaitInfo
from outlast.sdk.logger import logger
from outlast.sdk.task import Task
from outlast.worker.calling import acall_flexibly, call_flexibly, resolve

#: hooks whose task-level one runs before the project's (undoing what was set up, inside
#: out); the others run the project's first
_TASK_FIRST = ("on_wait", "cleanup")
#: hooks that may not start durable operations (``DurableRun.hook``)
_GUARDED = ("middleware", "init", "on_wait", "on_resume", "cleanup")


class HookUsageError(OutlastError):
    """A middleware that did not call ``next()`` exactly once, or a hook returning what
    it may not."""

    code = "hook_usage"


class Lifecycle:
    """The hooks of one execution of ``task`` for ``payload``; ``ctx`` gains ``init``."""

    def __init__(self, task: Task[..., Any], payload: Any,
                 ctx: RunContext | Callable[[], RunContext],
                 durable: DurableRun | None = None,
                 run_async: Callable[[Coroutine[Any, Any, Any]], Any] = asyncio.run) -> None:
        """``ctx``: the run's context, or what makes it when first read (``ctx``);
        ``run_async`` runs an async task's body to its end: ``asyncio.run``, or a worker's
        child's lasting loop (``event_loop.ChildLoop``)."""
        self.task = task
        self.payload = payload
        self._ctx = ctx if isinstance(ctx, RunContext) else None
        self._make_ctx = ctx
        self.durable = durable
        self._run_async = run_async
        #: this execution's hook errors: {"hook", "function", "type", "message"}
        self.errors: list[dict[str, Any]] = []
        self._chain = (*project_hooks.registered("middleware"), *task.middleware)

    @property
    def ctx(self) -> RunContext:
        """The run's context, made when first read: a task that takes no ``ctx`` and has
        no hooks or middleware never reads it, and most runs of a worker are such."""
        if self._ctx is None:
            self._ctx = self._make_ctx()  # type: ignore[operator] # a RunContext is set
        return self._ctx

    def hooks(self, kind: str) -> Sequence[Hook]:
        task = self.task
        if not project_hooks._total and not task.hooks and task.handle_error is None:
            return ()  # the common case, five times an attempt: no hook at all
        own = task.handle_error if kind == "handle_error" else task.hooks.get(kind)
        mine = [own] if own is not None else []
        project = project_hooks.registered(kind)
        if not project:  # the common case, on every attempt: no project-wide hooks
            return mine
        return [*mine, *project] if kind in _TASK_FIRST else [*project, *mine]

    # -- the body: middleware → init → on_start → task → cleanup --------------------------

    def run(self) -> Any:
        """Run the body; the task's output, or its exception (or a control signal)."""
        if self.task.is_async:
            return self._run_async(self._alayer(0))
        return self._layer(0)

    async def arun(self) -> Any:
        """``run`` for an async task whose attempt is itself a coroutine (one of many
        sharing a child's loop): the body is awaited on the running loop."""
        return await self._alayer(0)

    def _layer(self, index: int) -> Any:
        if index == len(self._chain):
            return self._core()
        middleware = self._chain[index]
        hop = _Next(lambda: self._layer(index + 1), self)
        with self.guard("middleware"):
            if inspect.iscoroutinefunction(middleware):
                resolve(middleware(self.payload, self.ctx, hop.awaitable))
            else:
                resolve(middleware(self.payload, self.ctx, hop))
        return hop.result(middleware)

    async def _alayer(self, index: int) -> Any:
        if index == len(self._chain):
            return await self._acore()
        middleware = self._chain[index]
        hop = _Next(lambda: self._alayer(index + 1), self)
        with self.guard("middleware"):
            if inspect.iscoroutinefunction(middleware):
                await middleware(self.payload, self.ctx, hop.awaitable)
            else:  # its next() runs the rest on a loop of its own (``calling.resolve``)
                resolve(middleware(self.payload, self.ctx, hop))
        return hop.result(middleware)

    def _core(self) -> Any:
        try:
            values = []
            for hook in self.hooks("init"):
                with self._init_of(hook):
                    values.append(call_flexibly(hook, self.payload, self.ctx))
            self._init(values)
            self.each("on_start", self.payload)
            return self.task.fn(*self._task_args())
        finally:
            self.each("cleanup", self.payload)

    async def _acore(self) -> Any:
        try:
            values = []
            for hook in self.hooks("init"):
                with self._init_of(hook):
                    values.append(await acall_flexibly(hook, self.payload, self.ctx))
            self._init(values)
            await self.aeach("on_start", self.payload)
            return await self.task.fn(*self._task_args())
        finally:
            await self.aeach("cleanup", self.payload)

    @contextmanager
    def _init_of(self, hook: Hook) -> Iterator[None]:
        """An ``init`` runs under the durable guard; one that raises is logged naming it
        and fails the attempt (it is part of it)."""
        try:
            with self.guard("init"):
                yield
        except Exception as exc:
            self._failed("init", hook, exc)
            raise

    def _init(self, values: list[Any]) -> None:
        """``ctx.init``: what the task's own ``init`` returned (the project's set up
        ``ctx.locals`` instead)."""
        own = self.task.hooks.get("init")
        value = values[-1] if own is not None and values else None
        made = self._ctx  # one not made yet is made with ``init`` None
        if value is not None or (made is not None and made.init is not None):
            self._ctx = replace(self.ctx, init=value)  # a copy only for a change

    def _task_args(self) -> tuple[Any, ...]:
        return (self.payload, self.ctx) if self.task.wants_ctx else (self.payload,)

    # -- waits (``DurableRun.listener``) ---------------------------------------------------

    def waiting(self, wait: WaitInfo) -> None:
        self.each("on_wait", self.payload, wait)

    def resumed(self, wait: WaitInfo) -> None:
        self.each("on_resume", self.payload, wait)

    async def awaiting(self, wait: WaitInfo) -> None:
        await self.aeach("on_wait", self.payload, wait)

    async def aresumed(self, wait: WaitInfo) -> None:
        await self.aeach("on_resume", self.payload, wait)

    # -- after the body ----------------------------------------------------------------

    def retry_decision(self, exc: BaseException) -> RetryDecision | None:
        """The first ``RetryDecision`` a ``handle_error`` returns (the task's, then the
        project's); None: the retry policy decides."""
        for hook in self.hooks("handle_error"):
            try:
                decision = _checked(call_flexibly(hook, self.payload, exc, self.ctx))
                if decision is not None:
                    return decision
            except (Exception, HandBack) as hook_exc:
                self._failed("handle_error", hook, hook_exc)
        return None

    async def aretry_decision(self, exc: BaseException) -> RetryDecision | None:
        """``retry_decision`` on the running loop (an attempt sharing a child's loop)."""
        for hook in self.hooks("handle_error"):
            try:
                decision = _checked(await acall_flexibly(hook, self.payload, exc, self.ctx))
                if decision is not None:
                    return decision
            except (Exception, HandBack) as hook_exc:
                self._failed("handle_error", hook, hook_exc)
        return None

    def completed(self, output: Any) -> None:
        self.each("on_success", self.payload, output)
        if self.hooks("on_complete"):
            self.each("on_complete", self.payload,
                      TaskRunResult(self.ctx.run.id, True, "COMPLETED", output))

    def ended(self, error: dict[str, Any], status: str) -> None:
        """The run ended in ``status`` (FAILED, CRASHED, CANCELED, ...) with ``error``."""
        self.each("on_failure", self.payload, error)
        if self.hooks("on_complete"):
            self.each("on_complete", self.payload,
                      TaskRunResult(self.ctx.run.id, False, status, None, error))

    async def acompleted(self, output: Any) -> None:
        """``completed`` on the running loop."""
        await self.aeach("on_success", self.payload, output)
        if self.hooks("on_complete"):
            await self.aeach("on_complete", self.payload,
                             TaskRunResult(self.ctx.run.id, True, "COMPLETED", output))

    async def aended(self, error: dict[str, Any], status: str) -> None:
        """``ended`` on the running loop."""
        await self.aeach("on_failure", self.payload, error)
        if self.hooks("on_complete"):
            await self.aeach("on_complete", self.payload,
                             TaskRunResult(self.ctx.run.id, False, status, None, error))

    # -- calling hooks -------------------------------------------------------------------

    def each(self, kind: str, *args: Any) -> None:
        """Call every hook of ``kind`` with ``args`` and the run's context; errors are
        reported, never raised."""
        for hook in self.hooks(kind):
            try:
                with self.guard(kind):
                    call_flexibly(hook, *args, self.ctx)
            except (Exception, HandBack) as exc:
                self._failed(kind, hook, exc)

    async def aeach(self, kind: str, *args: Any) -> None:
        for hook in self.hooks(kind):
            try:
                with self.guard(kind):
                    await acall_flexibly(hook, *args, self.ctx)
            except (Exception, HandBack) as exc:
                self._failed(kind, hook, exc)

    @contextmanager
    def guard(self, kind: str | None) -> Iterator[None]:
        """While a hook of ``kind`` runs, no durable operation may start (None: they may,
        as inside ``next()``)."""
        run = self.durable
        if run is None:
            yield
            return
        before = run.hook
        run.hook = kind if kind in _GUARDED else None
        try:
            yield
        finally:
            run.hook = before

    def _failed(self, kind: str, hook: Hook, exc: BaseException) -> None:
        name = f"{getattr(hook, '__module__', '?')}.{getattr(hook, '__qualname__', hook)}"
        logger.error(f"{kind} hook {name} failed: {exc!r}", hook=kind, function=name)
        self.errors.append({"hook": kind, "function": name, "type": type(exc).__name__,
                            "message": str(exc) or type(exc).__name__})


def _checked(decision: object) -> RetryDecision | None:
    """What a ``handle_error`` returned, refused unless a ``RetryDecision`` or None."""
    if decision is None or isinstance(decision, RetryDecision):
        return decision
    raise HookUsageError(f"handle_error returned {decision!r}; return a RetryDecision, or "
                         "None to let the retry policy decide")


class _Next:
    """The ``next`` a middleware is given: runs the rest of the chain, exactly once."""

    def __init__(self, inner: Callable[[], Any], life: Lifecycle) -> None:
        self._inner = inner
        self._life = life
        self._calls = 0
        self._value: Any = None

    def __call__(self) -> Any:
        self._enter()
        with self._life.guard(None):
            self._value = resolve(self._inner())
        return self._value

    async def awaitable(self) -> Any:
        self._enter()
        with self._life.guard(None):
            value = self._inner()
            if inspect.isawaitable(value):
                value = await value
        self._value = value
        return value

    def _enter(self) -> None:
        if self._calls:
            raise HookUsageError("a middleware called next() twice: the task runs once per "
                                 "attempt")
        self._calls += 1

    def result(self, middleware: Hook) -> Any:
        if not self._calls:
            name = getattr(middleware, "__qualname__", repr(middleware))
            raise HookUsageError(f"middleware {name} returned without calling next(): "
                                 "the task did not run")
        return self._value
