"""Outlast: durable background tasks for Python.

Write a task as a plain function, trigger it from anywhere, and its run survives
retries, crashes and restarts. The documentation in docs/ is the tour and the
reference: docs/concepts.md, a guide per capability in docs/guides/, and
docs/reference/python.md for this package's public names.
"""

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
