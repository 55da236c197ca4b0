"""The schedule calls of ``Client.schedules`` and ``AsyncClient.schedules``, built once.

Cron expressions and zones are checked here, on the caller's side, so a typo fails
before any round trip; the server checks them again for every other caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from outlast.core.cron import expand, zone
from outlast.core.params import ScheduleChanges, TaskRef, check_keywords
from outlast.errors import ValidationError
from outlast.sdk.calls import Call, _seg
from outlast.sdk.schedule_records import Schedule

if TYPE_CHECKING:
    from outlast.sdk.client import AsyncClient, Client

ScheduleList = list[Schedule]


def task_id(task: Any) -> str:
    """A task id from an id or a ``Task`` object."""
    value = getattr(task, "id", task)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"task must be a task id or a Task, got {task!r}")
    return value


def create(task: TaskRef, cron: str, timezone: str = "UTC", external_id: str | None = None,
           deduplication_key: str | None = None) -> Call:
    expand(cron)
    zone(timezone)
    body = {"task": task_id(task), "cron": cron, "timezone": timezone,
            "external_id": external_id, "deduplication_key": deduplication_key}
    return Call("POST", "/schedules", body)


def list_schedules(task: Any = None, limit: int = 100, cursor: str | None = None) -> Call:
    query: dict[str, Any] = {"limit": limit}
    if task is not None:
        query["task"] = task_id(task)
    if cursor is not None:
        query["cursor"] = cursor
    return Call("GET", "/schedules", query=query)


def one(schedule_id: str, method: str = "GET") -> Call:
    return Call(method, f"/schedules/{_seg(schedule_id)}")


def update(schedule_id: str, changes: ScheduleChanges) -> Call:
    check_keywords(changes, ScheduleChanges, "schedules.update")
    if "cron" in changes:
        expand(changes["cron"])
    if "timezone" in changes:
        zone(changes["timezone"])
    if "task" in changes:
        changes = {**changes, "task": task_id(changes["task"])}
    return Call("PATCH", f"/schedules/{_seg(schedule_id)}", dict(changes))


def action(schedule_id: str, verb: str) -> Call:
    return Call("POST", f"/schedules/{_seg(schedule_id)}/{verb}", {})


class Schedules:
    """``client.schedules``: create, list, retrieve, update, activate, deactivate, delete."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def _one(self, call: Call) -> Schedule:
        return Schedule.from_record(self._c.send(call))

    def create(self, task: TaskRef, cron: str, timezone: str = "UTC",
               external_id: str | None = None, deduplication_key: str | None = None) -> Schedule:
        """A new schedule; with an existing ``deduplication_key``, that schedule updated."""
        return self._one(create(task, cron, timezone, external_id, deduplication_key))

    def list(self, task: Any = None, limit: int = 100, cursor: str | None = None) -> ScheduleList:
        data = self._c.send(list_schedules(task, limit, cursor))
        return [Schedule.from_record(r) for r in data["data"]]

    def retrieve(self, schedule_id: str) -> Schedule:
        return self._one(one(schedule_id))

    def update(self, schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
        """Change ``task``, ``cron``, ``timezone`` or ``external_id``."""
        return self._one(update(schedule_id, changes))

    def activate(self, schedule_id: str) -> Schedule:
        return self._one(action(schedule_id, "activate"))

    def deactivate(self, schedule_id: str) -> Schedule:
        return self._one(action(schedule_id, "deactivate"))

    def delete(self, schedule_id: str) -> Schedule:
        return self._one(one(schedule_id, "DELETE"))


class AsyncSchedules:
    """``async_client.schedules``: the asyncio twin of ``Schedules``."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def _one(self, call: Call) -> Schedule:
        return Schedule.from_record(await self._c.send(call))

    async def create(self, task: TaskRef, cron: str, timezone: str = "UTC",
                     external_id: str | None = None,
                     deduplication_key: str | None = None) -> Schedule:
        return await self._one(create(task, cron, timezone, external_id, deduplication_key))

    async def list(self, task: Any = None, limit: int = 100,
                   cursor: str | None = None) -> ScheduleList:
        data = await self._c.send(list_schedules(task, limit, cursor))
        return [Schedule.from_record(r) for r in data["data"]]

    async def retrieve(self, schedule_id: str) -> Schedule:
        return await self._one(one(schedule_id))

    async def update(self, schedule_id: str, **changes: Unpack[ScheduleChanges]) -> Schedule:
        return await self._one(update(schedule_id, changes))

    async def activate(self, schedule_id: str) -> Schedule:
        return await self._one(action(schedule_id, "activate"))

    async def deactivate(self, schedule_id: str) -> Schedule:
        return await self._one(action(schedule_id, "deactivate"))

    async def delete(self, schedule_id: str) -> Schedule:
        return await self._one(one(schedule_id, "DELETE"))
