"""``@step`` and ``step.run``: work whose result is recorded, so replay does not run it again.

A step that returns is written to the run's journal; on replay it returns the recorded
value at once. In a worker the attempt does not wait for that write: the worker writes it
before anything the attempt does next (``durable.RecordAhead``). Called outside a running
task (a task function called directly in a unit test), a step simply runs. A step that
raises is retried in the process by its own ``retry`` policy (if given) and otherwise
fails the attempt; failures are not recorded, so the run's next attempt runs the step
again while earlier steps stay recorded."""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from outlast.core.durable_requests import Op, Record
from outlast.core.retry import Retry, retry_delay
from outlast.errors import AbortTaskRunError
from outlast.jsonutil import dumps
from outlast.observability import record_retried
from outlast.sdk.durable import active, current_run
from outlast.sdk.logger import logger
from outlast.sdk.waits import wait

P = ParamSpec("P")
R = TypeVar("R")

KIND = "step"


def _json(name: str, value: Any) -> str:
    """The step's result as JSON: an error for a value that is not JSON or too large."""
    return dumps(value, f"result of step {name!r}")


def _run_sync(name: str, retry: Retry | None, fn: Callable[..., Any], args: Any,
              kwargs: Any) -> Any:
    if current_run.get() is None:  # called outside a run (a unit test): just run it
        return _attempts(retry, lambda: fn(*args, **kwargs))
    run = active(f"step {name!r}")

    def fresh(at: Op) -> Any:
        tries = _Tries(name, at.seq)
        value = _attempts(retry, lambda: fn(*args, **kwargs), tries)
        return run.record(Record(at, value, elapsed=tries.elapsed()), _json(name, value))

    return run.call(KIND, name, fresh)


async def _run_async(name: str, retry: Retry | None, fn: Callable[..., Awaitable[Any]],
                     args: Any, kwargs: Any) -> Any:
    if current_run.get() is None:
        return await _attempts_async(retry, lambda: fn(*args, **kwargs))
    run = active(f"step {name!r}")

    async def fresh(at: Op) -> Any:
        tries = _Tries(name, at.seq)
        value = await _attempts_async(retry, lambda: fn(*args, **kwargs), tries)
        return await run.arecord(Record(at, value, elapsed=tries.elapsed()), _json(name, value))

    return await run.acall(KIND, name, fresh)


class _Tries:
    """How a step's tries went, told to the run's logs: each failed try that is tried
    again, and the failure that ends the step, is a line with the step's name and place in
    the journal, so the run's trace shows them on the step (a failed step has no journal
    entry: the next attempt runs it again)."""

    def __init__(self, name: str, seq: int) -> None:
        self.name, self.seq = name, seq
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def failed(self, attempt: int, exc: Exception, delay: float | None) -> None:
        where = {"step": self.name, "seq": self.seq, "try": attempt,
                 "elapsed": round(self.elapsed(), 6), "error": type(exc).__name__}
        if delay is None:
            logger.error(f"step {self.name!r} failed: {exc}", **where, failed=True)
        else:
            record_retried(exc, attempt)
            logger.warning(f"step {self.name!r} failed on try {attempt}: {exc}; trying "
                           f"again in {delay:.1f} s", **where, retry_in=round(delay, 3))


def _attempts(retry: Retry | None, call: Callable[[], Any], tries: _Tries | None = None) -> Any:
    attempt = 1
    while True:
        try:
            return call()
        except AbortTaskRunError:
            raise
        except Exception as exc:
            delay = _next_delay(retry, attempt)
            if tries is not None:
                tries.failed(attempt, exc, delay)
            if delay is None:
                raise
            # wait.pause, not time.sleep: under outlast.testing the fake clock jumps over it
            wait.pause(delay)
            attempt += 1


async def _attempts_async(retry: Retry | None, call: Callable[[], Awaitable[Any]],
                          tries: _Tries | None = None) -> Any:
    attempt = 1
    while True:
        try:
            return await call()
        except AbortTaskRunError:
            raise
        except Exception as exc:
            delay = _next_delay(retry, attempt)
            if tries is not None:
                tries.failed(attempt, exc, delay)
            if delay is None:
                raise
            if wait.pause is time.sleep:
                await asyncio.sleep(delay)
            else:  # outlast.testing's fake clock
                wait.pause(delay)
            attempt += 1


def _next_delay(retry: Retry | None, attempt: int) -> float | None:
    """The pause before the step's next try, or None when ``attempt`` was its last."""
    if retry is None or attempt >= retry.max_attempts:
        return None
    return retry_delay(retry, attempt)


class _Step:
    """The ``step`` object: a decorator, and ``step.run(name, fn, *args)`` inline."""

    @overload
    def __call__(self, fn: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def __call__(self, fn: None = None, /, *, name: str | None = None,
                 retry: Retry | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def __call__(self, fn: Callable[P, R] | None = None, /, *, name: str | None = None,
                 retry: Retry | None = None) -> Any:
        def wrap(func: Callable[P, R]) -> Callable[P, R]:
            step_name = name or func.__qualname__
            if inspect.iscoroutinefunction(func):
                @functools.wraps(func)
                async def async_step(*args: P.args, **kwargs: P.kwargs) -> Any:
                    return await _run_async(step_name, retry, func, args, kwargs)
                return async_step  # type: ignore[return-value]

            @functools.wraps(func)
            def sync_step(*args: P.args, **kwargs: P.kwargs) -> Any:
                return _run_sync(step_name, retry, func, args, kwargs)
            return sync_step

        return wrap(fn) if fn is not None else wrap

    def run(self, name: str, fn: Callable[..., R], *args: Any, retry: Retry | None = None,
            **kwargs: Any) -> R:
        """Run ``fn(*args, **kwargs)`` as the step ``name``."""
        return _run_sync(name, retry, fn, args, kwargs)  # type: ignore[no-any-return]

    async def run_async(self, name: str, fn: Callable[..., Awaitable[R]], *args: Any,
                        retry: Retry | None = None, **kwargs: Any) -> R:
        return await _run_async(name, retry, fn, args, kwargs)  # type: ignore[no-any-return]


step = _Step()
