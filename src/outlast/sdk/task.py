"""``@task``: turn a plain function into a task that can be triggered from anywhere.

The decorator attaches a typed definition to the function; calling the returned
``Task`` object runs the function inline (handy in tests), while ``.trigger()`` creates
a run that a worker executes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from typing_extensions import TypedDict, Unpack

from outlast.core.definitions import DEFAULT_MACHINE, TaskDefinition
from outlast.core.params import BatchItem, TriggerParams
from outlast.core.retention import Retention, parse_retention
from outlast.core.retry import Retry
from outlast.durations import DurationLike, parse_duration
from outlast.errors import ConfigError
from outlast.machines import machine as check_machine
from outlast.sdk import children
from outlast.sdk import hooks as project_hooks
from outlast.sdk.children import TaskRunResult
from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.durable import current_run
from outlast.sdk.handles import AsyncRunHandle, BatchHandle, RunHandle
from outlast.sdk.payloads import PayloadCodec
from outlast.sdk.queue_declaration import Queue
from outlast.sdk.registry import Registry, default_registry

P = ParamSpec("P")
R = TypeVar("R")

Hook = Callable[..., Any]
#: ``"7d"``, ``timedelta(days=7)``, ``"forever"`` or ``{"finished": "7d", "failed": "30d"}``
RetentionLike = DurationLike | dict[str, DurationLike]
#: the hooks ``@task`` takes one function for (``middleware`` takes a list; ``handle_error``
#: is asked, not told: ``Task.handle_error``)
_HOOK_NAMES = ("init", "on_start", "on_wait", "on_resume", "cleanup", "on_success",
               "on_failure", "on_complete")


@dataclass(frozen=True)
class TaskDefaults:
    """Project-wide defaults (``[defaults]`` in outlast.toml) for tasks that set none."""

    retry: Retry = field(default_factory=Retry)
    machine: str = DEFAULT_MACHINE
    max_duration: float | None = None
    #: ``[retention]`` of the worker's environment
    retention: Retention = field(default_factory=Retention)


_defaults = TaskDefaults()


def set_task_defaults(retry: dict[str, Any] | None = None, machine: str | None = None,
                      max_duration: float | None = None,
                      retention: dict[str, float | None] | None = None) -> None:
    """Apply project defaults to tasks defined from now on (workers call this at start)."""
    global _defaults
    _defaults = TaskDefaults(Retry.from_dict(retry) if retry else Retry(),
                             check_machine(machine).name if machine else DEFAULT_MACHINE,
                             max_duration, Retention.from_dict(retention))


class Task(Generic[P, R]):
    """A registered task. Immutable after definition."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        id: str,
        retry: Retry,
        queue: Queue,
        machine: str,
        max_duration: float | None,
        ttl: float | None,
        hooks: dict[str, Hook],
        handle_error: Hook | None,
        middleware: tuple[Hook, ...] = (),
        retention: Retention | None = None,
    ) -> None:
        self.fn = fn
        self.id = id
        self.retry = retry
        self.queue = queue
        self.machine = machine
        self.max_duration = max_duration
        self.ttl = ttl
        self.hooks = hooks
        self.handle_error = handle_error
        self.middleware = middleware
        #: how long its finished runs are kept (``@task(retention=...)`` or the project's)
        self.retention = retention or Retention()
        self.codec = PayloadCodec.for_function(fn)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.wants_ctx = len(inspect.signature(fn).parameters) >= 2
        self.qualname = f"{fn.__module__}.{fn.__qualname__}"
        #: {"cron", "timezone"} when declared with ``@schedules.task``
        self.schedule: dict[str, Any] | None = None
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.id!r} queue={self.queue.name!r}>"

    def definition(self) -> TaskDefinition:
        return TaskDefinition(
            id=self.id, queue=self.queue.name, concurrency_limit=self.queue.concurrency_limit,
            total_limit=self.queue.total_limit, rate_limit=self.queue.rate_limit,
            key_rate_limit=self.queue.key_rate_limit,
            retry=self.retry, machine=self.machine, max_duration=self.max_duration, ttl=self.ttl,
            hooks=self.hook_kinds(), payload_schema=self.codec.json_schema(),
            schedule=self.schedule, retention=self.retention,
        )

    def as_tool(self, format: str = "openai", *, name: str | None = None) -> dict[str, Any]:
        """This task as a tool an LLM can call: its name (the id, see ``tools.tool_name``),
        its docstring as description and its payload type's JSON schema, in the shape of
        ``format``: ``"openai"`` (Chat Completions), ``"openai-responses"`` or
        ``"anthropic"``. ``tools.Toolset`` runs the model's calls."""
        from outlast.sdk.tool_specs import ToolSpec  # pydantic: only for tools

        return ToolSpec.of(self, name).definition(format)

    def hook_kinds(self) -> tuple[str, ...]:
        """The kinds of hook this task runs, its own and the project's (``outlast.hooks``):
        the engine asks whether a run ended outside its process needs a hook job."""
        own = set(self.hooks) | ({"middleware"} if self.middleware else set()) | (
            {"handle_error"} if self.handle_error else set())
        return tuple(sorted(own | project_hooks.kinds_in_use()))

    # -- triggering ------------------------------------------------------------------------

    def payload_json_value(self, payload: Any) -> Any:
        """Validated payload as a JSON value (typed payloads are checked here, at trigger)."""
        import json

        return json.loads(self.codec.to_json(payload, self.id))

    def trigger(self, payload: Any = None, *, connection: Any = None,
                **options: Unpack[TriggerParams]) -> RunHandle:
        """Create a run and return at once (inside a task: once, whatever the replays).

        ``connection``: the app's psycopg connection, SQLAlchemy session or connection (or
        sqlite3 connection) to Outlast's database: the run is written in its transaction
        and exists if and only if that commits."""
        value = self.payload_json_value(payload)
        if current_run.get() is not None and connection is None:
            [run_id] = children.trigger([children.item(self.id, value, options)], self.id)
            return RunHandle(id=run_id, task=self.id)
        return default_client().tasks.trigger(self.id, value, connection=connection,
                                              **options)

    def trigger_and_wait(self, payload: Any = None,
                         **options: Unpack[TriggerParams]) -> TaskRunResult:
        """Inside a task: run a child and wait for it without holding a worker."""
        value = self.payload_json_value(payload)
        result: TaskRunResult = children.trigger_and_wait(
            [children.item(self.id, value, options)], self.id, batch=False)
        return result

    async def trigger_and_wait_async(self, payload: Any = None,
                                     **options: Unpack[TriggerParams]) -> TaskRunResult:
        value = self.payload_json_value(payload)
        result: TaskRunResult = await children.atrigger_and_wait(
            [children.item(self.id, value, options)], self.id, batch=False)
        return result

    def batch_trigger_and_wait(self, items: Iterable[BatchItem]) -> list[TaskRunResult]:
        """Inside a task: run children and wait for all; results in input order."""
        batch = [children.item(self.id, i["payload"], i.get("options"))
                 for i in self._checked(items)]
        results: list[TaskRunResult] = children.trigger_and_wait(batch, self.id, batch=True)
        return results

    async def batch_trigger_and_wait_async(
            self, items: Iterable[BatchItem]) -> list[TaskRunResult]:
        batch = [children.item(self.id, i["payload"], i.get("options"))
                 for i in self._checked(items)]
        results: list[TaskRunResult] = await children.atrigger_and_wait(batch, self.id,
                                                                         batch=True)
        return results

    async def trigger_async(self, payload: Any = None, *, connection: Any = None,
                            **options: Unpack[TriggerParams]) -> AsyncRunHandle:
        """``trigger`` for asyncio code; inside a task, durable as ``trigger`` is."""
        value = self.payload_json_value(payload)
        if current_run.get() is not None and connection is None:
            [run_id] = await children.atrigger([children.item(self.id, value, options)],
                                               self.id)
            return AsyncRunHandle(id=run_id, task=self.id)
        return await default_async_client().tasks.trigger(self.id, value,
                                                          connection=connection, **options)

    def batch_trigger(self, items: Iterable[BatchItem], *,
                      connection: Any = None) -> BatchHandle:
        """Up to 1,000 runs in one transaction: ``[{"payload": ..., "options": {...}}]``
        (with ``connection``, the caller's transaction)."""
        checked = self._checked(items)
        if current_run.get() is not None and connection is None:
            ids = children.trigger([children.item(self.id, i["payload"], i.get("options"))
                                    for i in checked], self.id)
            return BatchHandle(batch_id="", runs=[RunHandle(id=i, task=self.id) for i in ids])
        return default_client().tasks.batch_trigger(self.id, checked, connection=connection)

    async def batch_trigger_async(self, items: Iterable[BatchItem], *,
                                  connection: Any = None) -> list[AsyncRunHandle]:
        checked = self._checked(items)
        if current_run.get() is not None and connection is None:
            ids = await children.atrigger(
                [children.item(self.id, i["payload"], i.get("options")) for i in checked],
                self.id)
            return [AsyncRunHandle(id=i, task=self.id) for i in ids]
        return await default_async_client().tasks.batch_trigger(
            self.id, checked, connection=connection)

    def _checked(self, items: Iterable[BatchItem]) -> list[BatchItem]:
        return [
            {"payload": self.payload_json_value(i.get("payload")),
             "options": i.get("options") or {}}
            for i in items
        ]


class TaskOptions(TypedDict, total=False):
    """The keywords of ``@task`` besides ``id`` (``@schedules.task`` passes them on)."""

    retry: Retry | None
    queue: Queue | str | None
    machine: str | None
    max_duration: DurationLike | None
    ttl: DurationLike | None
    init: Hook | None
    retention: RetentionLike | None
    on_start: Hook | None
    on_wait: Hook | None
    on_resume: Hook | None
    cleanup: Hook | None
    on_success: Hook | None
    on_failure: Hook | None
    on_complete: Hook | None
    handle_error: Hook | None
    middleware: Sequence[Hook] | None
    registry: Registry | None


def _default_id(fn: Callable[..., Any]) -> str:
    return fn.__name__.replace("_", "-")


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    fn: None = None,
    /,
    *,
    id: str | None = None,
    retry: Retry | None = None,
    queue: Queue | str | None = None,
    machine: str | None = None,
    max_duration: DurationLike | None = None,
    ttl: DurationLike | None = None,
    init: Hook | None = None,
    retention: RetentionLike | None = None,
    on_start: Hook | None = None,
    on_wait: Hook | None = None,
    on_resume: Hook | None = None,
    cleanup: Hook | None = None,
    on_success: Hook | None = None,
    on_failure: Hook | None = None,
    on_complete: Hook | None = None,
    handle_error: Hook | None = None,
    middleware: Sequence[Hook] | None = None,
    registry: Registry | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    id: str | None = None,
    retry: Retry | None = None,
    queue: Queue | str | None = None,
    machine: str | None = None,
    max_duration: DurationLike | None = None,
    ttl: DurationLike | None = None,
    init: Hook | None = None,
    retention: RetentionLike | None = None,
    on_start: Hook | None = None,
    on_wait: Hook | None = None,
    on_resume: Hook | None = None,
    cleanup: Hook | None = None,
    on_success: Hook | None = None,
    on_failure: Hook | None = None,
    on_complete: Hook | None = None,
    handle_error: Hook | None = None,
    middleware: Sequence[Hook] | None = None,
    registry: Registry | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Define a task; use bare (``@task``) or with options (``@task(id=..., retry=...)``).

    ``retention``: how long its finished runs are kept: a duration for every run
    (``"7d"``), ``{"finished": "7d", "failed": "30d"}``, or ``"forever"``; the project's
    ``[retention]`` by default.
    """

    def wrap(func: Callable[P, R]) -> Task[P, R]:
        if not callable(func):
            raise ConfigError("@task decorates a function")
        task_id = id or _default_id(func)
        given = (init, on_start, on_wait, on_resume, cleanup, on_success, on_failure,
                 on_complete)
        hooks = _checked_hooks(dict(zip(_HOOK_NAMES, given, strict=True)), handle_error)
        definition = Task(
            func, id=task_id, retry=retry or _defaults.retry,
            queue=_queue(queue, task_id),
            machine=check_machine(machine).name if machine else _defaults.machine,
            max_duration=_defaults.max_duration if max_duration is None else parse_duration(
                max_duration, "max_duration"),
            ttl=None if ttl is None else parse_duration(ttl, "ttl"),
            hooks=hooks, handle_error=handle_error,
            middleware=_checked_middleware(middleware),
            retention=_defaults.retention if retention is None else parse_retention(
                retention, _defaults.retention),
        )
        (registry if registry is not None else default_registry).add(definition)
        return definition

    return wrap(fn) if fn is not None else wrap


def _checked_hooks(given: dict[str, Hook | None], handle_error: Hook | None) -> dict[str, Hook]:
    for name, hook in [*given.items(), ("handle_error", handle_error)]:
        if hook is not None and not callable(hook):
            raise ConfigError(f"@task({name}=...) takes a function, got {hook!r}")
    return {name: hook for name, hook in given.items() if hook is not None}


def _checked_middleware(middleware: Sequence[Hook] | None) -> tuple[Hook, ...]:
    if middleware is None:
        return ()
    if callable(middleware) or not all(callable(m) for m in middleware):
        raise ConfigError("@task(middleware=...) takes a list of functions "
                          "fn(payload, ctx, next)")
    return tuple(middleware)


def _queue(queue: Queue | str | None, task_id: str) -> Queue:
    if isinstance(queue, Queue):
        return queue
    return Queue(queue or task_id)
