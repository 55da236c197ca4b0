"""The version calls of ``Client.versions`` and ``AsyncClient.versions``, built once.

Version names are checked here, on the caller's side, so a typo fails before any round
trip; the server checks them again for every other caller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from outlast.core.records import VersionRecord
from outlast.core.versions import check_version
from outlast.sdk.calls import Call, _seg

if TYPE_CHECKING:
    from outlast.sdk.client import AsyncClient, Client

VersionList = list[VersionRecord]


def list_versions() -> Call:
    return Call("GET", "/versions")


def one(version: str) -> Call:
    return Call("GET", f"/versions/{_seg(check_version(version))}")


def action(version: str, verb: str) -> Call:
    return Call("POST", f"/versions/{_seg(check_version(version))}/{verb}", {})


class Versions:
    """``client.versions``: list, retrieve, promote, retire."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def list(self) -> VersionList:
        """Every version, newest first: state, tasks, live workers, unfinished pinned runs
        and ``safe_to_stop`` (its workers can stop without leaving a run waiting)."""
        return [VersionRecord.from_json(v) for v in self._c.send(list_versions())["data"]]

    def retrieve(self, version: str) -> VersionRecord:
        """One version with its task ``definitions`` and live ``workers``."""
        return VersionRecord.from_json(self._c.send(one(version)))

    def promote(self, version: str) -> VersionRecord:
        """New runs go to ``version`` from now on; the current one drains."""
        return VersionRecord.from_json(self._c.send(action(version, "promote")))

    def retire(self, version: str) -> VersionRecord:
        """Mark ``version`` retired; a ``ConflictError`` while it is current or runs are
        pinned to it."""
        return VersionRecord.from_json(self._c.send(action(version, "retire")))


class AsyncVersions:
    """``async_client.versions``: the asyncio twin of ``Versions``."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def list(self) -> VersionList:
        data = (await self._c.send(list_versions()))["data"]
        return [VersionRecord.from_json(v) for v in data]

    async def retrieve(self, version: str) -> VersionRecord:
        return VersionRecord.from_json(await self._c.send(one(version)))

    async def promote(self, version: str) -> VersionRecord:
        return VersionRecord.from_json(await self._c.send(action(version, "promote")))

    async def retire(self, version: str) -> VersionRecord:
        return VersionRecord.from_json(await self._c.send(action(version, "retire")))
