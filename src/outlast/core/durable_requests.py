"""The durable operations a running attempt asks for, one frozen record per operation.

Task code builds them (``outlast.sdk``), the child pickles them up its pipe inside a
``RuntimeCall``, and the worker answers each with the handler registered for its type
(``outlast.worker.runtime``); ``outlast.testing`` hands them to the same handlers in
process. This module imports nothing of the engine, the server or the SDK, so every
side can share it.

Two families:

- journaled: written at the attempt's next sequence number (``at``), and replayed from
  the journal afterwards. Asked again after a database fault, their journal entry tells
  whether the first try committed (``outlast.worker.runtime.committed``).
- run requests: read or change the run itself (its journal, metadata, tags, streams) or a
  token, and leave no journal entry.

Adding an operation: a record here, its handler in ``outlast.worker.runtime``, the SDK
call that builds it, and the engine function that does the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Op:
    """Who asks (run and lease) and where in the journal the answer goes."""

    run_id: str
    lease_id: str
    seq: int
    kind: str
    name: str


# -- journaled ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """A durable operation that completed in the attempt (a step, a short sleep, a key)."""

    op: ClassVar[str] = "record"
    at: Op
    result: Any = None
    #: seconds the operation took in the attempt (a step's tries, a short sleep), so its
    #: journal entry says when it started; None: it took no time worth telling
    elapsed: float | None = None


@dataclass(frozen=True)
class SleepFor:
    """Sleep ``seconds`` from now, by the engine's clock (not the attempt's)."""

    op: ClassVar[str] = "sleep"
    at: Op
    seconds: float


@dataclass(frozen=True)
class SleepUntil:
    """Sleep until the epoch time ``until``."""

    op: ClassVar[str] = "sleep"
    at: Op
    until: float


@dataclass(frozen=True)
class CreateToken:
    op: ClassVar[str] = "create_token"
    at: Op
    timeout: float | None
    tags: list[str]
    idempotency_key: str | None


@dataclass(frozen=True)
class WaitToken:
    op: ClassVar[str] = "wait_token"
    at: Op
    token_id: str


@dataclass(frozen=True)
class ChildRun:
    """One run to trigger from inside a task; ``options`` as checked JSON."""

    task: str
    payload: Any
    options: dict[str, Any]


@dataclass(frozen=True)
class Trigger:
    """Trigger child runs; with ``wait``, suspend until all of them are final."""

    op: ClassVar[str] = "trigger"
    at: Op
    items: list[ChildRun]
    wait: bool
    batch: bool
    #: the trace context of the span that triggers them (the operation's own span), so
    #: the children's attempts are its children in the same trace; None outside a trace
    traceparent: str | None = None


@dataclass(frozen=True)
class Patch:
    """Mark that this run took the new branch of a code change (``patched``): the entry at
    ``at`` (kind "patch", named after the change) makes every replay take it again."""

    op: ClassVar[str] = "patch"
    at: Op


Journaled = Record | SleepFor | SleepUntil | CreateToken | WaitToken | Trigger | Patch

# -- run requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadJournal:
    """The run's journal, read under the attempt's lease (the only request that reads)."""

    op: ClassVar[str] = "journal"
    run_id: str
    lease_id: str


@dataclass(frozen=True)
class CompleteToken:
    """Complete a token of the worker's environment; it names no run of its own."""

    op: ClassVar[str] = "complete_token"
    token_id: str
    output: Any = None


@dataclass(frozen=True)
class UpdateMetadata:
    """Apply ``ops`` to the run's metadata (none: just read it)."""

    op: ClassVar[str] = "metadata"
    run_id: str
    lease_id: str
    ops: list[dict[str, Any]]


@dataclass(frozen=True)
class UpdateRelatedMetadata:
    """Apply ``ops`` to the metadata of the run's ``target``: "parent" or "root"."""

    op: ClassVar[str] = "related_metadata"
    run_id: str
    lease_id: str
    ops: list[dict[str, Any]]
    target: str


@dataclass(frozen=True)
class AddTags:
    op: ClassVar[str] = "add_tags"
    run_id: str
    lease_id: str
    tags: list[str]


@dataclass(frozen=True)
class AppendStream:
    op: ClassVar[str] = "stream_append"
    run_id: str
    lease_id: str
    key: str
    chunks: list[Any]


RunRequest = (ReadJournal | CompleteToken | UpdateMetadata | UpdateRelatedMetadata | AddTags
              | AppendStream)

DurableRequest = Journaled | RunRequest


def caller(request: DurableRequest) -> str:
    """The run that asks ("" for a request that names none): faults are counted per run."""
    if isinstance(request, Journaled):
        return request.at.run_id
    if isinstance(request, CompleteToken):
        return ""
    return request.run_id
