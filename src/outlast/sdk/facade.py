"""Module-level ``tasks``, ``runs`` and ``batch``: the default client's resources.

``from outlast import runs; runs.retrieve(id)`` works in app code (configured by
environment or ``.outlast/dev.env``) and inside tasks (answered by the worker).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any

from typing_extensions import Unpack

from outlast.core.durable_requests import ChildRun
from outlast.core.params import (
    BatchItem,
    MetadataOperation,
    RunFilters,
    TaskBatchItem,
    TriggerParams,
)
from outlast.core.records import LogLine, RunEvent, TraceJson
from outlast.errors import ValidationError
from outlast.sdk import children
from outlast.sdk.children import TaskRunResult
from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.durable import current_run
from outlast.sdk.handles import AsyncRunHandle, BatchHandle, Run, RunHandle

RunList = list[Run]
TagList = list[str]
HandleList = list[AsyncRunHandle]
Logs = list[LogLine]
Events = list[RunEvent]


class _TasksFacade:
    def trigger(self, task_id: str, payload: Any = None, *, connection: Any = None,
                **options: Unpack[TriggerParams]) -> RunHandle:
        """Create a run; with ``connection``, inside that connection's transaction (see
        ``Client.tasks.trigger``)."""
        if current_run.get() is not None and connection is None:  # durable, once per run
            [run_id] = children.trigger([children.item(task_id, payload, options)], task_id)
            return RunHandle(id=run_id, task=task_id)
        return default_client().tasks.trigger(task_id, payload, connection=connection,
                                               **options)

    def trigger_and_wait(self, task_id: str, payload: Any = None,
                         **options: Unpack[TriggerParams]) -> TaskRunResult:
        result: TaskRunResult = children.trigger_and_wait(
            [children.item(task_id, payload, options)], task_id, batch=False)
        return result

    async def trigger_async(self, task_id: str, payload: Any = None, *,
                            connection: Any = None,
                            **options: Unpack[TriggerParams]) -> AsyncRunHandle:
        return await default_async_client().tasks.trigger(task_id, payload,
                                                          connection=connection, **options)

    def batch_trigger(self, task_id: str, items: Iterable[BatchItem], *,
                      connection: Any = None) -> BatchHandle:
        return default_client().tasks.batch_trigger(task_id, items, connection=connection)


class _BatchFacade:
    def trigger(self, items: Iterable[TaskBatchItem], *,
                connection: Any = None) -> BatchHandle:
        if current_run.get() is not None and connection is None:
            batch = _items(items)
            ids = children.trigger(batch, "batch")
            return BatchHandle(batch_id="", runs=[RunHandle(id=i, task=b.task)
                                                  for i, b in zip(ids, batch, strict=True)])
        return default_client().batch.trigger(items, connection=connection)

    def trigger_and_wait(self, items: Iterable[TaskBatchItem]) -> list[TaskRunResult]:
        """Inside a task: runs of several tasks, waited for together; results in order."""
        results: list[TaskRunResult] = children.trigger_and_wait(_items(items), "batch",
                                                                 batch=True)
        return results

    async def trigger_async(self, items: Iterable[TaskBatchItem], *,
                            connection: Any = None) -> HandleList:
        return await default_async_client().batch.trigger(items, connection=connection)


class _RunsFacade:
    def retrieve(self, run_id: str) -> Run:
        return default_client().runs.retrieve(run_id)

    async def retrieve_async(self, run_id: str) -> Run:
        return await default_async_client().runs.retrieve(run_id)

    def list(self, **filters: Unpack[RunFilters]) -> RunList:
        return default_client().runs.list(**filters)

    async def list_async(self, **filters: Unpack[RunFilters]) -> RunList:
        return await default_async_client().runs.list(**filters)

    def cancel(self, run_id: str) -> Run:
        return default_client().runs.cancel(run_id)

    async def cancel_async(self, run_id: str) -> Run:
        return await default_async_client().runs.cancel(run_id)

    def replay(self, run_id: str, payload: Any = ...) -> RunHandle:
        return default_client().runs.replay(run_id, payload)

    def reschedule(self, run_id: str, delay: Any) -> Run:
        return default_client().runs.reschedule(run_id, delay)

    def resume(self, run_id: str, version: str | None = None) -> Run:
        """Queue a PARKED run again (see ``Client.runs.resume``)."""
        return default_client().runs.resume(run_id, version)

    async def resume_async(self, run_id: str, version: str | None = None) -> Run:
        return await default_async_client().runs.resume(run_id, version)

    def move(self, run_id: str, version: str) -> Run:
        """Pin an unfinished run to ``version`` (see ``Client.runs.move``)."""
        return default_client().runs.move(run_id, version)

    async def move_async(self, run_id: str, version: str) -> Run:
        return await default_async_client().runs.move(run_id, version)

    def update_metadata(self, run_id: str, values: Mapping[str, Any] | None = None, *,
                        operations: Iterable[MetadataOperation] | None = None
                        ) -> dict[str, Any]:
        """Update any unfinished run's metadata from outside it (see ``Client.runs``)."""
        return default_client().runs.update_metadata(run_id, values, operations=operations)

    async def update_metadata_async(self, run_id: str, values: Mapping[str, Any] | None = None,
                                    *, operations: Iterable[MetadataOperation] | None = None
                                    ) -> dict[str, Any]:
        return await default_async_client().runs.update_metadata(run_id, values,
                                                                 operations=operations)

    def add_tags(self, run_id: str, tags: str | Iterable[str]) -> TagList:
        """Add tags to a run from outside it; inside a task use ``tags.add``."""
        return default_client().runs.add_tags(run_id, tags)

    async def add_tags_async(self, run_id: str, tags: str | Iterable[str]) -> TagList:
        return await default_async_client().runs.add_tags(run_id, tags)

    def poll(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        return default_client().runs.poll(run_id, timeout=timeout, interval=interval)

    async def poll_async(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        return await default_async_client().runs.poll(run_id, timeout=timeout, interval=interval)

    def logs(self, run_id: str) -> Logs:
        return default_client().runs.logs(run_id)

    def events(self, run_id: str) -> Events:
        return default_client().runs.events(run_id)

    def trace(self, run_id: str) -> TraceJson:
        """The run as a tree of spans, and what it waits for (see ``Client.runs.trace``)."""
        return default_client().runs.trace(run_id)

    def skip_wait(self, run_id: str) -> Run:
        """End a waiting run's sleeps now: it resumes as if their time had come."""
        return default_client().runs.skip_wait(run_id)

    def subscribe(self, run_id: str | None = None, *, tag: str | None = None) -> Iterator[Run]:
        """Snapshots on every change until final (or, by ``tag=``, of every tagged run)."""
        return default_client().runs.subscribe(run_id, tag=tag)

    def subscribe_async(self, run_id: str | None = None, *,
                        tag: str | None = None) -> AsyncIterator[Run]:
        return default_async_client().runs.subscribe(run_id, tag=tag)

    def stream(self, run_id: str, key: str) -> Iterator[Any]:
        """A stream the run writes, from its first chunk until the run is final."""
        return default_client().runs.stream(run_id, key)

    def stream_async(self, run_id: str, key: str) -> AsyncIterator[Any]:
        return default_async_client().runs.stream(run_id, key)


def _items(items: Iterable[TaskBatchItem]) -> list[ChildRun]:
    out = []
    for entry in items:
        task_id = entry.get("task")
        if not isinstance(task_id, str) or not task_id:
            raise ValidationError("each batch item needs a 'task' id")
        out.append(children.item(task_id, entry.get("payload"), entry.get("options")))
    return out


tasks = _TasksFacade()
runs = _RunsFacade()
batch = _BatchFacade()
