"""What callers send: keyword options and request bodies, as ``TypedDict``s.

One declaration serves three readers. The SDK's signatures take these with ``Unpack``
(``trigger(payload, **options: Unpack[TriggerParams])``), so a misspelt option fails type
checking; the checks at run time (``outlast.core.options.parse_options``, the handlers) reject
the same unknown names; and the OpenAPI document derives each request body's schema from
them (through pydantic), so the document says what the server accepts.

Durations and times accept more Python types than JSON can carry (``timedelta``,
``datetime``); their ``JsonSchema`` says what travels over HTTP instead.

The SDK, and so every worker child, loads this module: it does not load pydantic, which
asks each annotation for its schema (``__get_pydantic_json_schema__``,
``__get_pydantic_core_schema__``) only when the server builds its document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, NotRequired, Protocol

from typing_extensions import TypedDict


class JsonSchema:
    """An annotation giving a type's JSON schema in the API's document, as pydantic's
    ``WithJsonSchema`` does (through the same method; see the module's docstring)."""

    __slots__ = ("schema",)

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        return dict(self.schema)


class AsGiven:
    """An annotation validating a value as it is given, as pydantic's ``PlainValidator``
    of the identity does (through the same method; see the module's docstring)."""

    __slots__ = ()

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(lambda value: value)

#: "5m", "1h30m", "2d" or seconds
Duration = Annotated[
    str | int | float | timedelta,
    JsonSchema({"anyOf": [{"type": "number", "minimum": 0},
                              {"type": "string", "description": "e.g. 30s, 5m, 1h30m, 2d"}],
                    "description": "A duration: seconds, or text such as 5m or 1h30m"}),
]


class DelayAt(TypedDict):
    """An absolute start time in epoch seconds (what a ``datetime`` delay travels as)."""

    at: float


#: a duration from now, an aware ``datetime`` / ISO-8601 time, or ``{"at": epoch}``
Delay = Annotated[
    str | int | float | timedelta | datetime | DelayAt,
    JsonSchema({"anyOf": [
        {"type": "number", "minimum": 0, "description": "seconds from now"},
        {"type": "string", "description": "a duration (5m) or an ISO-8601 time with a zone"},
        {"type": "object", "required": ["at"], "additionalProperties": False,
         "properties": {"at": {"type": "number", "description": "epoch seconds"}}},
    ]}),
]

#: any JSON value, chosen by the caller (a payload, an output)
JsonValue = Annotated[Any, JsonSchema({"description": "Any JSON value (free-form)"})]

#: a JSON object of the caller's own keys (run metadata)
JsonObject = Annotated[
    dict[str, Any],
    JsonSchema({"type": "object", "additionalProperties": True,
                    "description": "Free-form: any JSON object of the caller's keys"}),
]


#: the name of a version of the project's code (``runs.resume``, ``runs.move``)
Version = Annotated[
    str,
    JsonSchema({"type": "string", "minLength": 1, "maxLength": 100,
                    "pattern": "^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$",
                    "description": "A version: 1-100 of letters, digits and . _ + -, "
                                   "starting with a letter or digit"}),
]


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


#: a task id, or a ``Task`` (its id is sent)
TaskRef = Annotated[str | _HasId, AsGiven(),
                    JsonSchema({"type": "string", "description": "A task id"})]


class DebounceParams(TypedDict):
    """``debounce=``: collapse rapid triggers with one key into one run."""

    key: str
    delay: Duration
    mode: NotRequired[Literal["trailing", "leading"]]
    max_delay: NotRequired[Duration]


class TriggerParams(TypedDict, total=False):
    """The options of every ``trigger`` call (see ``outlast.core.options`` for the checks)."""

    delay: Delay | None
    ttl: Duration | None
    idempotency_key: str | None
    idempotency_key_ttl: Duration | None
    concurrency_key: str | None
    queue: str | None
    priority: int
    tags: str | list[str] | None
    metadata: JsonObject | None
    max_attempts: int | None
    machine: str | None
    max_duration: Duration | None
    debounce: DebounceParams | None
    #: pin the run to this registered version of the code (its workers alone run it)
    version: str | None
    #: the same as ``version`` (the name other platforms use)
    lock_to_version: str | None


class BatchItem(TypedDict):
    """One run of a batch of one task."""

    payload: JsonValue
    options: NotRequired[TriggerParams]


class TaskBatchItem(BatchItem):
    """One run of a batch across tasks: names its task."""

    task: str


class RunSelection(TypedDict, total=False):
    """The runs a bulk action acts on (``client.bulk_actions.cancel(...)``): the filters of
    ``runs.list`` without its paging (``RunFilters`` adds that, so the two never drift)."""

    status: str | list[str] | None
    task: str | None
    tag: str | None
    created_after: datetime | float | None
    created_before: datetime | float | None
    parent_id: str | None
    root_id: str | None
    idempotency_key: str | None
    version: str | None
    queue: str | None


class RunFilters(RunSelection, total=False):
    """``runs.list(...)`` filters; also the query of ``GET /runs``: a ``RunSelection``
    with search, order and paging."""

    search: str | None
    sort: str | None
    limit: int
    cursor: str | None


class TokenFilters(TypedDict, total=False):
    """``tokens.list(...)`` filters."""

    status: str | None
    tag: str | None
    run_id: str | None
    limit: int
    cursor: str | None


class QueueLimits(TypedDict, total=False):
    """``queues.update(name, ...)``: the limits to override (None: no limit)."""

    concurrency_limit: int | None
    total_limit: int | None
    rate_limit: str | None
    key_rate_limit: str | None


class ScheduleChanges(TypedDict, total=False):
    """``schedules.update(id, ...)``: what to change."""

    task: TaskRef
    cron: str
    timezone: str
    external_id: str | None


def check_keywords(given: Mapping[str, object], shape: Any, call: str) -> None:
    """A ``TypeError`` naming the keywords ``shape`` does not declare, worded as Python's
    own for a bad keyword, for calls whose options travel as a ``TypedDict``."""
    known = shape.__required_keys__ | shape.__optional_keys__
    unknown = sorted(set(given) - known)
    if unknown:
        raise TypeError(f"{call}() got unexpected keyword argument(s) "
                        f"{', '.join(map(repr, unknown))}; expected some of "
                        f"{', '.join(sorted(known))}")


# -- request bodies of the HTTP API ---------------------------------------------------------


class TriggerBody(TypedDict, total=False):
    payload: JsonValue
    options: TriggerParams


class BatchBody(TypedDict):
    items: list[BatchItem]


class BatchManyBody(TypedDict):
    items: list[TaskBatchItem]


class ReplayBody(TypedDict, total=False):
    """Without ``payload``, the new run takes the old run's payload."""

    payload: JsonValue


class BulkFilter(TypedDict, total=False):
    """The runs a bulk action acts on: the query values of ``GET /runs``, without paging
    (``status`` also as a list; times as epoch seconds or ISO-8601)."""

    status: str | list[str]
    task: str
    tag: str
    created_after: float | str
    created_before: float | str
    parent_id: str
    root_id: str
    idempotency_key: str
    version: str
    fingerprint: str
    queue: str


class BulkActionBody(TypedDict):
    """A ``filter`` or ``run_ids``; a replay may give every new run one ``payload``."""

    action: Literal["cancel", "replay"]
    filter: NotRequired[BulkFilter]
    run_ids: NotRequired[list[str]]
    payload: NotRequired[JsonValue]


class BulkCountBody(TypedDict):
    filter: BulkFilter


class RescheduleBody(TypedDict):
    delay: Delay


class ResumeBody(TypedDict, total=False):
    """Without ``version``, the parked run replays on the version it is pinned to."""

    version: Version


class MoveBody(TypedDict):
    version: Version


class MetadataOperation(TypedDict):
    op: Literal["set", "delete", "increment", "decrement", "append"]
    key: str
    value: NotRequired[JsonValue]


class MetadataBody(TypedDict, total=False):
    set: JsonObject
    operations: list[MetadataOperation]


class TagsBody(TypedDict):
    tags: list[str]


class TokenCreateBody(TypedDict, total=False):
    timeout: Duration | None
    tags: list[str]
    idempotency_key: str | None


class TokenCompleteBody(TypedDict, total=False):
    output: JsonValue


class ScheduleCreateBody(TypedDict):
    task: str
    cron: str
    timezone: NotRequired[str]
    external_id: NotRequired[str | None]
    deduplication_key: NotRequired[str | None]


class QueueUpdateBody(QueueLimits, total=False):
    #: limits whose override to drop, back to the code's values
    reset: list[Literal["concurrency_limit", "total_limit", "rate_limit", "key_rate_limit"]]


class EnvironmentLimitBody(TypedDict):
    concurrency_limit: int | None


class PublicTokenScope(TypedDict, total=False):
    run_id: str
    tag: str


class PublicTokenBody(TypedDict):
    #: exactly one of ``run_id`` and ``tag``
    scope: PublicTokenScope
    ttl: NotRequired[Duration | None]
