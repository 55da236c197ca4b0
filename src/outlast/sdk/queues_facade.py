"""``outlast.queues``: see and steer queues at run time, without a restart.

::

    from outlast import queues

    queues.list()                       # [QueueRecord(name, queued, running, paused, limits…)]
    queues.pause("api-calls")           # starts nothing new; TTLs still expire runs
    queues.resume("api-calls")
    queues.update("api-calls", concurrency_limit=10, rate_limit="100/m")
    queues.update("api-calls", reset=["concurrency_limit"])   # back to the code's value
    queues.set_environment_limit(50)    # EXECUTING runs across every queue

An override set here is kept apart from what the code declares, so a worker restart does
not undo it. The functions use the default client; every client has the same calls as
``client.queues``.
"""

from __future__ import annotations

from typing_extensions import Unpack

from outlast.core.params import QueueLimits
from outlast.core.records import EnvironmentLimit, QueueRecord
from outlast.sdk.client import default_async_client, default_client

__all__ = [
    "environment_limit", "environment_limit_async", "list", "list_async", "pause",
    "pause_async", "resume", "resume_async", "retrieve", "retrieve_async",
    "set_environment_limit", "set_environment_limit_async", "update", "update_async",
]

_list = list


def list() -> _list[QueueRecord]:  # noqa: A001 - mirrors runs.list / schedules.list
    return default_client().queues.list()


async def list_async() -> _list[QueueRecord]:
    return await default_async_client().queues.list()


def retrieve(name: str) -> QueueRecord:
    return default_client().queues.retrieve(name)


async def retrieve_async(name: str) -> QueueRecord:
    return await default_async_client().queues.retrieve(name)


def pause(name: str) -> QueueRecord:
    """A paused queue starts nothing; running runs finish and TTLs still expire runs."""
    return default_client().queues.pause(name)


async def pause_async(name: str) -> QueueRecord:
    return await default_async_client().queues.pause(name)


def resume(name: str) -> QueueRecord:
    return default_client().queues.resume(name)


async def resume_async(name: str) -> QueueRecord:
    return await default_async_client().queues.resume(name)


def update(name: str, reset: _list[str] | None = None,
           **limits: Unpack[QueueLimits]) -> QueueRecord:
    """Override limits (None: no limit); ``reset`` names overrides to drop."""
    return default_client().queues.update(name, reset, **limits)


async def update_async(name: str, reset: _list[str] | None = None,
                       **limits: Unpack[QueueLimits]) -> QueueRecord:
    return await default_async_client().queues.update(name, reset, **limits)


def environment_limit() -> EnvironmentLimit:
    return default_client().queues.environment_limit()


async def environment_limit_async() -> EnvironmentLimit:
    return await default_async_client().queues.environment_limit()


def set_environment_limit(limit: int | None) -> EnvironmentLimit:
    """Cap EXECUTING runs across every queue of the environment (None: the configuration's)."""
    return default_client().queues.set_environment_limit(limit)


async def set_environment_limit_async(limit: int | None) -> EnvironmentLimit:
    return await default_async_client().queues.set_environment_limit(limit)
