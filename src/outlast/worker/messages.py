"""Messages between the supervisor and its child processes (pickled over a Pipe).

Kept as small frozen dataclasses so both sides agree on the shape and tests can build
them directly. Several assignments for one child travel as one ``list[Assignment]``
message (one pickle and one pipe write); the child runs them in order.
"""

from __future__ import annotations

import copyreg
import operator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from outlast.core.quick_init import quick

if TYPE_CHECKING:  # only named here: the supervisor need not load the SDK to pass them on
    from outlast.core.durable_requests import DurableRequest, Record
    from outlast.sdk.calls import Call

_newobj = copyreg.__newobj__  # type: ignore[attr-defined] # not in the stubs


class _Message:
    """Pickled into the same bytes as ``object.__reduce_ex__`` gives a dataclass instance
    (its class, then its ``__dict__``), without that method's lookups: some 0.5 us, a
    fifth of pickling a run's ``Assignment``, once per run (``tests/unit/test_messages.py``
    pins the bytes)."""

    __slots__ = ()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return _newobj, (type(self),), self.__dict__ or None


@quick  # one per run claimed
@dataclass(frozen=True)
class Assignment(_Message):
    """Run one attempt. ``run`` holds the run's columns the child needs."""

    run: dict[str, Any]
    lease_id: str
    attempt: int
    memory_limit: int | None
    environment: str
    #: the run's journal read at its claim (it had started), so its replay asks for none
    journal: list[dict[str, Any]] | None = None
    #: run beside the child's other shared runs, as a task of its loop (an async task's
    #: run, ``shared_runs.py``), rather than alone
    shared: bool = False
    #: until when (``lease_clock.now``) the claim's lease is surely held, less a margin
    #: (``lease_clock.py``); the supervisor's heartbeats extend it
    held_until: float | None = None


@dataclass(frozen=True)
class HookJob(_Message):
    """Call a final-state hook for a run that ended outside a child (cancel, expiry, crash)."""

    run: dict[str, Any]
    hook: str
    lease_id: str
    environment: str


@dataclass(frozen=True)
class Stop(_Message):
    pass


@dataclass(frozen=True)
class Cancel(_Message):
    """Stop the shared run of ``run_id`` (its run was canceled, or its ``max_duration``
    is spent): its asyncio task is cancelled, and it reports ``Finished`` of kind
    ``stopped``, the supervisor knowing why."""

    run_id: str


@dataclass(frozen=True)
class Reply(_Message):
    request_id: int
    ok: bool
    data: Any = None
    error: dict[str, Any] | None = None
    status: int = 200


# -- child → supervisor ------------------------------------------------------------------


@dataclass(frozen=True)
class Ready(_Message):
    """The child imported the task files: the tasks it has, and the files that failed
    ({path: {"error", "traceback"}}); ``error`` when it could not start at all.
    ``code_version``: the hash of the project files it loaded (``code_identity``), the
    worker's version unless one was given."""

    pid: int
    definitions: list[dict[str, Any]]
    error: str | None = None
    import_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    code_version: str | None = None
    #: the ids of its ``async def`` tasks, whose runs may share it (``shared_runs.py``)
    async_tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class LogBatch(_Message):
    """Captured log lines of one attempt (or hook job), written only while ``lease_id``
    still holds the run: a stale attempt's late lines are dropped."""

    run_id: str
    lease_id: str
    attempt: int
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ApiCall(_Message):
    request_id: int
    call: Call


@dataclass(frozen=True)
class RuntimeCall(_Message):
    """A durable operation of the running attempt (journal, waits, child runs)."""

    request_id: int
    request: DurableRequest


@dataclass(frozen=True)
class Recorded(_Message):
    """A durable operation that completed in the attempt, sent without waiting for an
    answer (``sdk.durable.RecordAhead``): the supervisor writes it before anything that
    comes after it on this pipe (``worker.records_ahead``)."""

    request: Record


@quick  # one per attempt
@dataclass(frozen=True)
class Finished(_Message):
    """An attempt ended inside the child (completed, failed, aborted or out of memory)."""

    run_id: str
    lease_id: str
    attempt: int
    kind: str
    executed: float
    output: Any = None
    error: dict[str, Any] | None = None
    retry_override: bool | float | None = None
    hooks_done: bool = False
    retry_at: float | None = None
    retry_machine: str | None = None
    #: the attempt's hooks that raised (``outlast.engine.hook_reports``)
    hook_errors: tuple[dict[str, Any], ...] = ()

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickled as its values in field order, for its (``quick``) ``__init__``: a sync
        child sends one per run, alone, and with its field names that pickle was twice
        the size and took the supervisor some 40% longer to read."""
        return Finished, _finished_values(self)


_finished_values = operator.attrgetter(*(f.name for f in fields(Finished)))


@dataclass(frozen=True)
class HookDone(_Message):
    run_id: str
    lease_id: str
    #: the hooks that raised (``outlast.engine.hook_reports``)
    errors: list[dict[str, Any]] = field(default_factory=list)
