"""``outlast.schedules``: cron schedules, declared in code or created by a call.

Declared in code, synced each time a worker registers its tasks (remove the decorator
and the schedule is deactivated)::

    from outlast import schedules

    @schedules.task(id="hourly-update", cron="0 * * * *", timezone="Asia/Seoul")
    def hourly_update(payload: schedules.ScheduledPayload) -> None:
        payload.timestamp, payload.last_timestamp, payload.upcoming

Created by a call, for example one per customer (``deduplication_key`` makes a repeated
``create`` update the existing schedule instead of adding another)::

    s = schedules.create(task="report", cron="0 9 * * MON-FRI", timezone="Europe/Paris",
                         external_id="user-17", deduplication_key="user-17-report")

The functions here use the default client, like ``runs`` and ``tasks``; every client has
the same calls as ``client.schedules``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from typing_extensions import Unpack

from outlast.core.cron import checked
from outlast.core.params import ScheduleChanges
from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.schedule_records import Schedule
from outlast.sdk.scheduled_payload import ScheduledPayload
from outlast.sdk.task import Task, TaskOptions
from outlast.sdk.task import task as plain_task

__all__ = [
    "Schedule", "ScheduledPayload", "activate", "create", "deactivate", "delete", "list",
    "retrieve", "task", "update",
]

P = ParamSpec("P")
R = TypeVar("R")
ScheduleList = list[Schedule]


def task(id: str | None = None, *, cron: str, timezone: str = "UTC",
         **options: Unpack[TaskOptions]) -> Callable[[Callable[P, R]], Task[P, R]]:
    """``@task`` plus a cron schedule that fires it in ``timezone`` (an IANA name).

    ``cron`` has five fields (minute hour day-of-month month day-of-week) with ranges,
    lists, steps and names (``MON-FRI``, ``JAN``), or a macro such as ``@hourly``. Every
    other keyword is an ``@task`` option. A bad cron or zone fails at import.
    """
    expanded = checked(cron, timezone)

    def wrap(fn: Callable[P, R]) -> Task[P, R]:
        defined: Task[P, R] = plain_task(id=id, **options)(fn)
        defined.schedule = {"cron": expanded, "timezone": timezone}
        return defined

    return wrap


def create(task: Any, cron: str, timezone: str = "UTC", external_id: str | None = None,
           deduplication_key: str | None = None) -> Schedule:
    """A new schedule for ``task`` (an id or a ``Task``); see ``Client.schedules.create``."""
    return default_client().schedules.create(task, cron, timezone, external_id,
                                             deduplication_key)


async def create_async(task: Any, cron: str, timezone: str = "UTC",
                       external_id: str | None = None,
                       deduplication_key: str | None = None) -> Schedule:
    return await default_async_client().schedules.create(task, cron, timezone, external_id,
                                                         deduplication_key)


def list_schedules(task: Any = None, limit: int = 100, cursor: str | None = None) -> ScheduleList:
    """Schedules, oldest first; ``task`` filters by task."""
    return default_client().schedules.list(task, limit, cursor)


async def list_async(task: Any = None, limit: int = 100,
                     cursor: str | None = None) -> ScheduleList:
    return await default_async_client().schedules.list(task, limit, cursor)


def retrieve(schedule_id: str) -> Schedule:
    return default_client().schedules.retrieve(schedule_id)


async def retrieve_async(schedule_id: str) -> Schedule:
    return await default_async_client().schedules.retrieve(schedule_id)


def update(schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
    """Change ``task``, ``cron``, ``timezone`` or ``external_id`` (not of declared ones)."""
    return default_client().schedules.update(schedule_id, **changes)


async def update_async(schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
    return await default_async_client().schedules.update(schedule_id, **changes)


def activate(schedule_id: str) -> Schedule:
    """Resume from the next tick after now; ticks missed while inactive do not run."""
    return default_client().schedules.activate(schedule_id)


async def activate_async(schedule_id: str) -> Schedule:
    return await default_async_client().schedules.activate(schedule_id)


def deactivate(schedule_id: str) -> Schedule:
    return default_client().schedules.deactivate(schedule_id)


async def deactivate_async(schedule_id: str) -> Schedule:
    return await default_async_client().schedules.deactivate(schedule_id)


def delete(schedule_id: str) -> Schedule:
    """Delete an imperative schedule (a declared one goes away with its decorator)."""
    return default_client().schedules.delete(schedule_id)


async def delete_async(schedule_id: str) -> Schedule:
    return await default_async_client().schedules.delete(schedule_id)


list = list_schedules  # noqa: A001  (``schedules.list()`` is the contract's name)
