"""``RunContext``: what a task learns about the run it is executing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from outlast.sdk.locals import Locals


@dataclass(frozen=True)
class RunInfo:
    id: str
    tags: tuple[str, ...]
    created_at: datetime
    is_replay: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    parent_id: str | None = None
    root_id: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class AttemptInfo:
    number: int
    max_attempts: int


@dataclass(frozen=True)
class TaskInfo:
    id: str


@dataclass(frozen=True)
class QueueInfo:
    name: str


@dataclass(frozen=True)
class RunContext:
    run: RunInfo
    attempt: AttemptInfo
    task: TaskInfo
    queue: QueueInfo
    environment: str
    machine: str
    #: what the task's ``init`` hook returned in this execution (None without one)
    init: Any = None
    #: this execution's typed values (``LocalKey``), set by middleware and ``init``
    locals: Locals = field(default_factory=Locals, compare=False, repr=False)
