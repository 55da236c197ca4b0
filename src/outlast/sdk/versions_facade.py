"""``outlast.versions``: which versions of the code run, and which one new runs go to.

::

    from outlast import versions

    versions.list()               # [VersionRecord(version, state, tasks, live_workers, …)]
    versions.retrieve("20261204.1")   # with its task definitions and live workers
    versions.promote("20261204.1")    # new runs go to it; the current one drains
    versions.retire("20261201.3")     # refused while it is current or runs are pinned to it

A version whose ``safe_to_stop`` is true is not current and has no unfinished run pinned
to it: its workers can stop without leaving a run waiting for them. The functions use the
default client; every client has the same calls as ``client.versions``.
"""

from __future__ import annotations

from outlast.core.records import VersionRecord
from outlast.sdk.client import default_async_client, default_client

__all__ = [
    "list", "list_async", "promote", "promote_async", "retire", "retire_async", "retrieve",
    "retrieve_async",
]

_list = list


def list() -> _list[VersionRecord]:  # noqa: A001 - mirrors runs.list / queues.list
    return default_client().versions.list()


async def list_async() -> _list[VersionRecord]:
    return await default_async_client().versions.list()


def retrieve(version: str) -> VersionRecord:
    return default_client().versions.retrieve(version)


async def retrieve_async(version: str) -> VersionRecord:
    return await default_async_client().versions.retrieve(version)


def promote(version: str) -> VersionRecord:
    """New runs go to ``version``; the version current until now drains."""
    return default_client().versions.promote(version)


async def promote_async(version: str) -> VersionRecord:
    return await default_async_client().versions.promote(version)


def retire(version: str) -> VersionRecord:
    """Retire ``version``: refused while it is current or unfinished runs are pinned to it."""
    return default_client().versions.retire(version)


async def retire_async(version: str) -> VersionRecord:
    return await default_async_client().versions.retire(version)
