"""Outlast: durable background tasks for Python.

Write a task as a plain function, trigger it from anywhere, and its run survives
retries, crashes and restarts. The documentation in docs/ is the tour and the
reference: docs/concepts.md, a guide per capability in docs/guides/, and
docs/reference/python.md for this package's public names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from outlast.core.retry import Retry, RetryDecision
    from outlast.errors import (
        AbortTaskRunError,
        ConfigError,
        InvalidTransitionError,
        NotFoundError,
        OutlastError,
        PayloadTooLargeError,
        RunNotFoundError,
        ScheduleNotFoundError,
        TaskNotFoundError,
        TaskRunFailed,
        ValidationError,
    )
    from outlast.sdk import hooks, tools
    from outlast.sdk import queues_facade as queues
    from outlast.sdk import schedules_facade as schedules
    from outlast.sdk import versions_facade as versions
    from outlast.sdk.children import TaskRunResult
    from outlast.sdk.client import AsyncClient, Client, configure
    from outlast.sdk.context import RunContext
    from outlast.sdk.durable import DurableUsageError, NonDeterminismError
    from outlast.sdk.facade import batch, runs, tasks
    from outlast.sdk.handles import AsyncRunHandle, BatchHandle, Run, RunHandle
    from outlast.sdk.idempotency import idempotency_keys
    from outlast.sdk.locals import LocalKey
    from outlast.sdk.logger import logger
    from outlast.sdk.metadata import metadata
    from outlast.sdk.patches import patched
    from outlast.sdk.queue_declaration import Queue
    from outlast.sdk.steps import step
    from outlast.sdk.streams import streams
    from outlast.sdk.tags import tags
    from outlast.sdk.task import Task, task
    from outlast.sdk.waits import Token, WaitResult, wait


__version__ = "0.1.0"

#: each public name: the module it lives in and its name there (None: the module itself).
#: Loaded on first use (``__getattr__``), so a process that imports a part of Outlast,
#: a worker's supervisor above all, loads only what that part needs: not the HTTP
#: client, pydantic and the rest of the SDK that ``Client`` or ``schedules`` bring.
_PUBLIC: dict[str, tuple[str, str | None]] = {
    "AbortTaskRunError": ("outlast.errors", "AbortTaskRunError"),
    "AsyncClient": ("outlast.sdk.client", "AsyncClient"),
    "AsyncRunHandle": ("outlast.sdk.handles", "AsyncRunHandle"),
    "batch": ("outlast.sdk.facade", "batch"),
    "BatchHandle": ("outlast.sdk.handles", "BatchHandle"),
    "Client": ("outlast.sdk.client", "Client"),
    "ConfigError": ("outlast.errors", "ConfigError"),
    "configure": ("outlast.sdk.client", "configure"),
    "DurableUsageError": ("outlast.sdk.durable", "DurableUsageError"),
    "hooks": ("outlast.sdk.hooks", None),
    "idempotency_keys": ("outlast.sdk.idempotency", "idempotency_keys"),
    "InvalidTransitionError": ("outlast.errors", "InvalidTransitionError"),
    "LocalKey": ("outlast.sdk.locals", "LocalKey"),
    "logger": ("outlast.sdk.logger", "logger"),
    "metadata": ("outlast.sdk.metadata", "metadata"),
    "NonDeterminismError": ("outlast.sdk.durable", "NonDeterminismError"),
    "NotFoundError": ("outlast.errors", "NotFoundError"),
    "OutlastError": ("outlast.errors", "OutlastError"),
    "patched": ("outlast.sdk.patches", "patched"),
    "PayloadTooLargeError": ("outlast.errors", "PayloadTooLargeError"),
    "Queue": ("outlast.sdk.queue_declaration", "Queue"),
    "queues": ("outlast.sdk.queues_facade", None),
    "Retry": ("outlast.core.retry", "Retry"),
    "RetryDecision": ("outlast.core.retry", "RetryDecision"),
    "Run": ("outlast.sdk.handles", "Run"),
    "RunContext": ("outlast.sdk.context", "RunContext"),
    "RunHandle": ("outlast.sdk.handles", "RunHandle"),
    "RunNotFoundError": ("outlast.errors", "RunNotFoundError"),
    "runs": ("outlast.sdk.facade", "runs"),
    "ScheduleNotFoundError": ("outlast.errors", "ScheduleNotFoundError"),
    "schedules": ("outlast.sdk.schedules_facade", None),
    "step": ("outlast.sdk.steps", "step"),
    "streams": ("outlast.sdk.streams", "streams"),
    "tags": ("outlast.sdk.tags", "tags"),
    "Task": ("outlast.sdk.task", "Task"),
    "task": ("outlast.sdk.task", "task"),
    "TaskNotFoundError": ("outlast.errors", "TaskNotFoundError"),
    "TaskRunFailed": ("outlast.errors", "TaskRunFailed"),
    "TaskRunResult": ("outlast.sdk.children", "TaskRunResult"),
    "tasks": ("outlast.sdk.facade", "tasks"),
    "Token": ("outlast.sdk.waits", "Token"),
    "tools": ("outlast.sdk.tools", None),
    "ValidationError": ("outlast.errors", "ValidationError"),
    "versions": ("outlast.sdk.versions_facade", None),
    "wait": ("outlast.sdk.waits", "wait"),
    "WaitResult": ("outlast.sdk.waits", "WaitResult"),
}


if not TYPE_CHECKING:  # type checkers read the names above; an unknown one is an error
    def __getattr__(name: str) -> Any:
        """Load public name ``name`` from its module on first use (PEP 562)."""
        try:
            module, attribute = _PUBLIC[name]
        except KeyError:
            raise AttributeError(f"module 'outlast' has no attribute {name!r}") from None
        loaded = importlib.import_module(module)
        value = loaded if attribute is None else getattr(loaded, attribute)
        globals()[name] = value  # later lookups do not come here again
        return value


    def __dir__() -> list[str]:
        return sorted({*globals(), *_PUBLIC})


__all__ = [
    "AbortTaskRunError",
    "AsyncClient",
    "AsyncRunHandle",
    "BatchHandle",
    "Client",
    "ConfigError",
    "DurableUsageError",
    "InvalidTransitionError",
    "LocalKey",
    "NonDeterminismError",
    "NotFoundError",
    "OutlastError",
    "PayloadTooLargeError",
    "Queue",
    "Retry",
    "RetryDecision",
    "Run",
    "RunContext",
    "RunHandle",
    "RunNotFoundError",
    "ScheduleNotFoundError",
    "Task",
    "TaskNotFoundError",
    "TaskRunFailed",
    "TaskRunResult",
    "Token",
    "ValidationError",
    "WaitResult",
    "__version__",
    "batch",
    "configure",
    "hooks",
    "idempotency_keys",
    "logger",
    "metadata",
    "patched",
    "queues",
    "runs",
    "schedules",
    "step",
    "streams",
    "tags",
    "task",
    "tasks",
    "tools",
    "versions",
    "wait",
]
