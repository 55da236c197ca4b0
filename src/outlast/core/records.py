"""What callers get back: the API's records, as frozen dataclasses and JSON shapes.

Records whose JSON fields are already the Python values (tokens, queues, tasks, events,
logs, attempts, journal entries) are frozen dataclasses here, built by ``from_json``. A
run and a schedule carry times as epoch seconds on the wire and as ``datetime`` in the
SDK (``outlast.sdk.handles.Run``, ``outlast.sdk.schedule_records.Schedule``), so their JSON
shapes are ``TypedDict``s (``RunJson``, ``ScheduleJson``) that those records are read from.

The OpenAPI document derives every response schema from these same declarations.

Records also answer ``record["field"]`` and ``record.get("field")``: they were plain
dicts before, and code that reads them that way keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Annotated, Any, ClassVar, Generic, Literal, NotRequired, Self, TypeVar

from typing_extensions import TypedDict

from outlast.core.params import JsonObject, JsonSchema, JsonValue, PublicTokenScope, QueueLimits


class _Record:
    """``from_json``, ``to_json`` and dict-style reads for the frozen dataclasses below."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    #: not a sequence: ``record[0]`` is a KeyError, so iterating must not try it
    __iter__: ClassVar[None] = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The record from its JSON object; fields a newer server adds are ignored."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def __getitem__(self, name: str) -> Any:
        if name not in self.__dataclass_fields__:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self.__dataclass_fields__ else default

    def to_json(self) -> dict[str, Any]:
        """The record as the API sent it (a JSON object)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Token(_Record):
    """A waitpoint token; a POST to ``url`` completes it (no API key: the secret is in it).

    The URL's secret is derived from the token's id with the project's secret and stored
    only as a hash, so every read of the token (``retrieve``, ``list``, the same
    idempotency key again, ``wait.create_token`` replayed after a resume) rebuilds the
    same ``url``. It is None for a token made under a project secret since rotated (that
    URL no longer works) or by a version that drew random secrets (that URL still works).
    """

    id: str
    url: str | None
    status: str = "PENDING"
    tags: list[str] = field(default_factory=list)
    timeout_at: float | None = None
    output: JsonValue = None
    error: JsonObject | None = None
    run_id: str | None = None
    created_by_run: str | None = None
    idempotency_key: str | None = None
    created_at: float | None = None
    completed_at: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        return cls.from_json(data)


@dataclass(frozen=True)
class CompletedToken(_Record):
    """What a token's callback URL answers (the caller holds only the URL)."""

    id: str
    status: str


@dataclass(frozen=True)
class QueueRecord(_Record):
    """A queue's counts and limits in force: an operator's override, else the code's."""

    name: str
    queued: int
    running: int
    paused: bool
    concurrency_limit: int | None = None
    total_limit: int | None = None
    rate_limit: str | None = None
    key_rate_limit: str | None = None
    #: the limits the code declares
    code: QueueLimits = field(default_factory=lambda: QueueLimits())
    #: the limits an operator set, which win over the code's
    overrides: QueueLimits = field(default_factory=lambda: QueueLimits())
    updated_at: float | None = None


@dataclass(frozen=True)
class EnvironmentLimit(_Record):
    environment: str
    running: int
    concurrency_limit: int | None
    source: Literal["api", "config"]


@dataclass(frozen=True)
class BulkAction(_Record):
    """A bulk action (``client.bulk_actions``) and how far it got: ``processed`` =
    ``succeeded`` + ``skipped`` (a cancel of a run already final) + ``failed``."""

    id: str
    action: str
    status: str
    phase: str = "snapshot"
    filter: JsonObject | None = None
    payload: JsonValue = None
    total: int = 0
    processed: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    #: the first errors: ``{"run_id", "message"}``
    errors: list[dict[str, str]] = field(default_factory=list)
    message: str | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float | None = None
    is_final: bool = False


class RetryJson(TypedDict):
    max_attempts: int
    factor: float
    min_delay: float
    max_delay: float
    randomize: bool
    out_of_memory_machine: NotRequired[str | None]


class TaskSchedule(TypedDict):
    cron: str
    timezone: str


@dataclass(frozen=True)
class TaskRecord(_Record):
    """A registered task, as its worker declared it."""

    id: str
    queue: str
    concurrency_limit: int | None = None
    total_limit: int | None = None
    rate_limit: str | None = None
    key_rate_limit: str | None = None
    retry: RetryJson | None = None
    machine: str = "small-1x"
    max_duration: float | None = None
    ttl: float | None = None
    hooks: list[str] = field(default_factory=list)
    #: the JSON schema of a typed payload (a JSON Schema document)
    payload_schema: JsonObject | None = None
    schedule: TaskSchedule | None = None
    updated_at: float | None = None


#: unfinished runs by status, e.g. {"QUEUED": 2, "WAITING": 1}
RunCounts = Annotated[
    dict[str, int],
    JsonSchema({"type": "object", "additionalProperties": {"type": "integer"},
                    "description": "Unfinished runs by status, e.g. {\"QUEUED\": 2}"}),
]


@dataclass(frozen=True)
class VersionWorker(_Record):
    """A live worker running a version's code."""

    id: str
    hostname: str
    pid: int
    concurrency: int
    started_at: float
    heartbeat_at: float
    queues: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class VersionRecord(_Record):
    """A version of the project's code in one environment, and whether it is still needed.

    ``pinned_runs`` counts the unfinished runs pinned to it, by status; only its workers
    take them. ``safe_to_stop``: it is not current and none is pinned, so its workers can
    stop without leaving a run waiting. ``definitions`` and ``workers`` are given when one
    version is retrieved (None in lists).
    """

    version: str
    state: Literal["current", "draining", "retired"]
    source: str
    created_at: float
    promoted_at: float | None = None
    retired_at: float | None = None
    environment: str | None = None
    tasks: list[str] = field(default_factory=list)
    live_workers: int = 0
    pinned_runs: RunCounts = field(default_factory=dict)
    safe_to_stop: bool = False
    definitions: list[TaskRecord] | None = None
    workers: list[VersionWorker] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("definitions") is not None:
            known["definitions"] = [TaskRecord.from_json(d) for d in known["definitions"]]
        if known.get("workers") is not None:
            known["workers"] = [VersionWorker.from_json(w) for w in known["workers"]]
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        for name in ("definitions", "workers"):
            if data[name] is not None:
                data[name] = [item.to_json() for item in data[name]]
        return data


@dataclass(frozen=True)
class RunEvent(_Record):
    """One step of a run's timeline (status changes, attempts, waits)."""

    id: int
    run_id: str
    at: float
    kind: str
    status: str | None = None
    attempt: int | None = None
    data: JsonValue = None


@dataclass(frozen=True)
class LogLine(_Record):
    id: int
    attempt: int | None
    at: float
    level: str
    message: str
    attributes: JsonObject | None = None


@dataclass(frozen=True)
class AttemptRecord(_Record):
    number: int
    status: str
    worker_id: str | None = None
    machine: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    error: JsonObject | None = None


@dataclass(frozen=True)
class JournalEntry(_Record):
    """A durable operation of a run and its recorded result."""

    seq: int
    kind: str
    name: str
    status: str
    result: JsonValue = None
    created_at: float | None = None
    completed_at: float | None = None


# -- JSON shapes of records the SDK reads into datetime-bearing classes ---------------------


class OperationJson(TypedDict):
    """A durable operation as the journal names it (``step 'charge'``)."""

    kind: str
    name: str


class ParkedJson(TypedDict):
    """Why a run is PARKED: replaying its journal met code that no longer matches it."""

    #: the place in the journal where replay diverged (None if the worker did not say)
    seq: int | None
    #: what the journal recorded there
    recorded: OperationJson
    #: what the code called instead
    called: OperationJson
    #: what changed and the ways out (``outlast runs resume`` / ``move``)
    message: str
    #: the version the run was pinned to when it parked
    version: str | None
    #: the attempt that parked (its number was given back)
    attempt: int
    at: float


class RunJson(TypedDict):
    """A run on the wire (times in epoch seconds); the SDK reads it into ``Run``."""

    id: str
    status: str
    task: str
    queue: str
    #: None when it is kept in the blob store (over the threshold): read ``payload_url``
    payload: JsonValue
    #: ``/api/v1/runs/{id}/payload`` when the payload is kept as a blob, else None
    payload_url: str | None
    #: the blob's size in bytes, else None
    payload_size: int | None
    output: JsonValue
    output_url: str | None
    output_size: int | None
    error: JsonObject | None
    attempts: int
    max_attempts: int
    tags: list[str]
    metadata: JsonObject
    priority: int
    concurrency_key: str | None
    machine: str
    idempotency_key: str | None
    parent_id: str | None
    root_id: str | None
    batch_id: str | None
    replayed_from: str | None
    created_at: float
    available_at: float | None
    started_at: float | None
    finished_at: float | None
    duration: float
    cost: float
    is_final: bool
    environment: str
    #: the version of the code the run is pinned to (None until its first attempt starts)
    version: str | None
    #: why a PARKED run stopped; None for a run in any other status
    parked: ParkedJson | None
    #: who a QUEUED run waits for when no live worker can take it (read on retrieve only)
    waiting_for: str | None


class ScheduleJson(TypedDict):
    """A schedule on the wire; the SDK reads it into ``Schedule``."""

    id: str
    task: str
    cron: str
    description: str
    timezone: str
    external_id: str | None
    deduplication_key: str | None
    source: Literal["declarative", "imperative"]
    active: bool
    inactive_reason: str | None
    last_run: float | None
    next_run: float | None
    #: the next ticks, ISO-8601 in the schedule's zone
    upcoming: list[str]
    created_at: float
    updated_at: float
    environment: str


class TriggeredJson(TypedDict):
    """What a trigger answers; ``created`` is False for an idempotent repeat."""

    id: str
    task: str
    created: bool
    status: str


class BulkErrorJson(TypedDict):
    run_id: str
    message: str


class BulkActionJson(TypedDict):
    """A bulk action and how far it got. ``processed`` = ``succeeded`` + ``skipped`` (a
    cancel of a run already final) + ``failed``; ``total`` is known once the snapshot of
    the filter's runs is taken (``phase`` "process")."""

    id: str
    action: Literal["cancel", "replay"]
    status: Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "ABORTED"]
    phase: Literal["snapshot", "process"]
    #: the ``Engine.list_runs`` filters it acts on (None: it was given run ids)
    filter: JsonObject | None
    #: a replay's payload for every new run (None: each run's own)
    payload: JsonValue
    total: int
    processed: int
    succeeded: int
    skipped: int
    failed: int
    #: the first errors, one per failed run
    errors: list[BulkErrorJson]
    #: why it was aborted or failed
    message: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    is_final: bool


class BulkCountJson(TypedDict):
    total: int
    #: the count stops there (``total`` equal to it means at least that many)
    at_most: int
    filter: JsonObject


class BatchJson(TypedDict):
    batch_id: str
    runs: list[TriggeredJson]


class MetadataJson(TypedDict):
    metadata: JsonObject


class TagsJson(TypedDict):
    tags: list[str]


class SpanJson(TypedDict):
    """One span of a run's trace; ``end`` is None while it goes on. ``kind``: run,
    attempt, step, wait, trigger, operation, child (a child run, ``link`` to its page) or
    log (a line, ``status`` its level)."""

    id: str
    name: str
    kind: str
    status: str
    start: float
    end: float | None
    attributes: JsonObject
    output: JsonValue
    error: JsonValue
    link: str | None
    children: list[SpanJson]


class WaitJson(TypedDict):
    """What an unfinished run waits for: ``sleep`` (``until``), ``token`` (``token_id``,
    its timeout in ``until``) or ``children`` (id, task, status of each)."""

    kind: str
    span_id: str
    until: float | None
    token_id: str | None
    children: list[JsonObject]


class TraceJson(TypedDict):
    """A run as a tree of spans, and what it waits for while it is not final."""

    root: SpanJson
    waiting: list[WaitJson]


class PublicTokenJson(TypedDict):
    token: str
    expires_at: float
    scope: PublicTokenScope


class ScheduleTick(TypedDict):
    """A fired or skipped tick of a schedule."""

    tick: float
    status: str
    run_id: str | None
    skipped: bool | int
    recorded_at: float


class ErrorGroupJson(TypedDict):
    """Failed attempts of one task with the same error type and normalized message."""

    #: task, error type and normalized message, hashed (``core/fingerprints.py``)
    fingerprint: str
    task_id: str
    error_type: str
    #: the newest occurrence's message
    message: str
    #: ``message`` with numbers, ids and quoted values replaced by placeholders
    pattern: str
    #: failed attempts in the window, retried ones included
    attempts_failed: int
    #: runs this error ended (their last attempt failed with it) in the window
    runs_failed: int
    first_seen: float
    last_seen: float
    #: versions of the code the failed attempts ran, in the window
    versions: list[str]
    #: failed attempts per equal slot of the window, oldest first
    counts: list[int]
    window: str
    since: float
    slot_seconds: float


class ErrorOccurrenceJson(TypedDict):
    run_id: str
    attempt: int
    #: this failure ended its run
    final: bool
    version: str | None
    at: float
    message: str
    #: the run's status now (a retried run may have completed since)
    run_status: str | None


class ErrorGroupDetailJson(ErrorGroupJson):
    """One group with its newest occurrences and the newest stack trace recorded."""

    occurrences: list[ErrorOccurrenceJson]
    stack: str | None


T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    """A page of a list; ``next_cursor`` reads the next one (None: the last page)."""

    data: list[T]
    next_cursor: str | None


class Items(TypedDict, Generic[T]):
    """A whole (unpaged) list."""

    data: list[T]
