"""The queue calls of ``Client.queues`` and ``AsyncClient.queues``, built once.

Limits are checked here, on the caller's side, so a typo fails before any round trip;
the server checks them again for every other caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from outlast.core.limits import check_limits
from outlast.core.params import QueueLimits
from outlast.core.records import EnvironmentLimit, QueueRecord
from outlast.sdk.calls import Call, _seg

if TYPE_CHECKING:
    from outlast.sdk.client import AsyncClient, Client

Names = list[str]
QueueList = list[QueueRecord]


def list_queues() -> Call:
    return Call("GET", "/queues")


def one(name: str) -> Call:
    return Call("GET", f"/queues/{_seg(name)}")


def action(name: str, verb: str) -> Call:
    return Call("POST", f"/queues/{_seg(name)}/{verb}", {})


def update(name: str, changes: Mapping[str, Any], reset: list[str] | None) -> Call:
    body: dict[str, Any] = dict(check_limits(changes))
    if reset:
        body["reset"] = list(reset)
    return Call("PATCH", f"/queues/{_seg(name)}", body)


def environment_limit(limit: int | None = None, *, set_it: bool = False) -> Call:
    if set_it:
        return Call("PUT", "/environment/limit", {"concurrency_limit": limit})
    return Call("GET", "/environment/limit")


class Queues:
    """``client.queues``: list, retrieve, pause, resume, update; the environment limit."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> QueueList:
        """Every queue with ``queued``, ``running``, limits, ``paused``, code and overrides."""
        return [QueueRecord.from_json(q) for q in self._c.send(list_queues())["data"]]

    def retrieve(self, name: str) -> QueueRecord:
        return QueueRecord.from_json(self._c.send(one(name)))

    def pause(self, name: str) -> QueueRecord:
        """Start nothing new from ``name``; running runs finish, TTLs still expire."""
        return QueueRecord.from_json(self._c.send(action(name, "pause")))

    def resume(self, name: str) -> QueueRecord:
        return QueueRecord.from_json(self._c.send(action(name, "resume")))

    def update(self, name: str, reset: Names | None = None,
               **limits: Unpack[QueueLimits]) -> QueueRecord:
        """Override ``concurrency_limit``, ``total_limit``, ``rate_limit`` or
        ``key_rate_limit`` (None: no limit); ``reset`` returns limits to the code's."""
        return QueueRecord.from_json(self._c.send(update(name, limits, reset)))

    def environment_limit(self) -> EnvironmentLimit:
        return EnvironmentLimit.from_json(self._c.send(environment_limit()))

    def set_environment_limit(self, limit: int | None) -> EnvironmentLimit:
        return EnvironmentLimit.from_json(self._c.send(environment_limit(limit, set_it=True)))


class AsyncQueues:
    """``async_client.queues``: the asyncio twin of ``Queues``."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def list(self) -> QueueList:
        data = (await self._c.send(list_queues()))["data"]
        return [QueueRecord.from_json(q) for q in data]

    async def retrieve(self, name: str) -> QueueRecord:
        return QueueRecord.from_json(await self._c.send(one(name)))

    async def pause(self, name: str) -> QueueRecord:
        return QueueRecord.from_json(await self._c.send(action(name, "pause")))

    async def resume(self, name: str) -> QueueRecord:
        return QueueRecord.from_json(await self._c.send(action(name, "resume")))

    async def update(self, name: str, reset: Names | None = None,
                     **limits: Unpack[QueueLimits]) -> QueueRecord:
        return QueueRecord.from_json(await self._c.send(update(name, limits, reset)))

    async def environment_limit(self) -> EnvironmentLimit:
        return EnvironmentLimit.from_json(await self._c.send(environment_limit()))

    async def set_environment_limit(self, limit: int | None) -> EnvironmentLimit:
        return EnvironmentLimit.from_json(
            await self._c.send(environment_limit(limit, set_it=True)))
