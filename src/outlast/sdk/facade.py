"""Module-level ``tasks``, ``runs`` and ``batch``: the default client's resources.

``from outlast import runs; runs.retrieve(id)`` works in app code (configured by
environment or ``.outlast/dev.env``) and inside tasks (answered by the worker).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.handles import AsyncRunHandle, BatchHandle, Run, RunHandle

RunList = list[Run]
DictList = list[dict[str, Any]]
HandleList = list[AsyncRunHandle]


class _TasksFacade:
    def trigger(self, task_id: str, payload: Any = None, **options: Any) -> RunHandle:
        return default_client().tasks.trigger(task_id, payload, **options)

    async def trigger_async(self, task_id: str, payload: Any = None,
                            **options: Any) -> AsyncRunHandle:
        return await default_async_client().tasks.trigger(task_id, payload, **options)

    def batch_trigger(self, task_id: str, items: Iterable[Mapping[str, Any]]) -> BatchHandle:
        return default_client().tasks.batch_trigger(task_id, items)


class _BatchFacade:
    def trigger(self, items: Iterable[Mapping[str, Any]]) -> BatchHandle:
        return default_client().batch.trigger(items)

    async def trigger_async(self, items: Iterable[Mapping[str, Any]]) -> HandleList:
        return await default_async_client().batch.trigger(items)


class _RunsFacade:
    def retrieve(self, run_id: str) -> Run:
        return default_client().runs.retrieve(run_id)

    async def retrieve_async(self, run_id: str) -> Run:
        return await default_async_client().runs.retrieve(run_id)

    def list(self, **filters: Any) -> RunList:
        return default_client().runs.list(**filters)

    async def list_async(self, **filters: Any) -> RunList:
        return await default_async_client().runs.list(**filters)

    def cancel(self, run_id: str) -> Run:
        return default_client().runs.cancel(run_id)

    async def cancel_async(self, run_id: str) -> Run:
        return await default_async_client().runs.cancel(run_id)

    def replay(self, run_id: str, payload: Any = ...) -> RunHandle:
        return default_client().runs.replay(run_id, payload)

    def reschedule(self, run_id: str, delay: Any) -> Run:
        return default_client().runs.reschedule(run_id, delay)

    def poll(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        return default_client().runs.poll(run_id, timeout=timeout, interval=interval)

    async def poll_async(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        return await default_async_client().runs.poll(run_id, timeout=timeout, interval=interval)

    def logs(self, run_id: str) -> DictList:
        return default_client().runs.logs(run_id)

    def events(self, run_id: str) -> DictList:
        return default_client().runs.events(run_id)


tasks = _TasksFacade()
runs = _RunsFacade()
batch = _BatchFacade()
