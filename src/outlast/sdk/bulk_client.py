"""The bulk-action calls of ``Client.bulk_actions`` and ``AsyncClient.bulk_actions``.

A bulk action is given the filters of ``runs.list`` (``status``, ``task``, ``tag``,
``created_after``, …) and acts on every run that list would show, in the background; the
record it answers carries the progress and counts, and ``wait`` polls it until it is done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from typing_extensions import Unpack

from outlast.core.params import RunSelection, check_keywords
from outlast.core.records import BulkAction
from outlast.sdk.calls import Call, _seg, list_runs

if TYPE_CHECKING:
    from outlast.sdk.client import AsyncClient, Client

BulkActions_ = list[BulkAction]


def selection(filters: RunSelection) -> dict[str, Any]:
    """The filters as the query values of ``GET /runs`` (which a bulk filter is)."""
    check_keywords(filters, RunSelection, "bulk_actions")
    query = dict(list_runs(**filters).query or {})
    query.pop("limit", None)
    return query


def create(action: str, filters: RunSelection, run_ids: Iterable[str] | None,
           payload: Any) -> Call:
    body: dict[str, Any] = {"action": action}
    if run_ids is not None:
        body["run_ids"] = list(run_ids)
    else:
        body["filter"] = selection(filters)
    if payload is not ...:
        body["payload"] = payload
    return Call("POST", "/bulk-actions", body)


def count(filters: RunSelection) -> Call:
    return Call("POST", "/bulk-actions/count", {"filter": selection(filters)})


def one(action_id: str, verb: str = "") -> Call:
    path = f"/bulk-actions/{_seg(action_id)}" + (f"/{verb}" if verb else "")
    return Call("POST" if verb else "GET", path, {} if verb else None)


def page(limit: int, cursor: str | None) -> Call:
    query: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        query["cursor"] = cursor
    return Call("GET", "/bulk-actions", query=query)


class BulkActions:
    """``client.bulk_actions``: cancel or replay many runs, follow, list and abort."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def cancel(self, *, run_ids: Iterable[str] | None = None,
               **filters: Unpack[RunSelection]) -> BulkAction:
        """Cancel every run the filters list (or ``run_ids``); runs already final are
        counted as skipped. Returns at once: ``wait`` follows it."""
        return BulkAction.from_json(self._c.send(create("cancel", filters, run_ids, ...)))

    def replay(self, *, run_ids: Iterable[str] | None = None, payload: Any = ...,
               **filters: Unpack[RunSelection]) -> BulkAction:
        """A new run of each run the filters list (or of ``run_ids``), with its own
        payload or ``payload``; each new run's ``replayed_from`` names the old one."""
        return BulkAction.from_json(self._c.send(create("replay", filters, run_ids, payload)))

    def count(self, **filters: Unpack[RunSelection]) -> int:
        """How many runs a bulk action with these filters would act on."""
        return int(self._c.send(count(filters))["total"])

    def retrieve(self, action_id: str) -> BulkAction:
        return BulkAction.from_json(self._c.send(one(action_id)))

    def list(self, limit: int = 20, cursor: str | None = None) -> BulkActions_:
        """The newest bulk actions first."""
        return [BulkAction.from_json(a) for a in self._c.send(page(limit, cursor))["data"]]

    def abort(self, action_id: str) -> BulkAction:
        """Stop it after the batch in flight (the runs that batch acted on stay so)."""
        return BulkAction.from_json(self._c.send(one(action_id, "abort")))

    def wait(self, action_id: str, timeout: float = 600.0,
             interval: float = 0.5) -> BulkAction:
        """The action once it is final; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not (action := self.retrieve(action_id)).is_final:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bulk action {action_id} is still {action.status} "
                                   f"({action.processed}/{action.total}) after {timeout}s")
            time.sleep(interval)
        return action


class AsyncBulkActions:
    """``async_client.bulk_actions``: the asyncio twin of ``BulkActions``."""

    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def cancel(self, *, run_ids: Iterable[str] | None = None,
                     **filters: Unpack[RunSelection]) -> BulkAction:
        return BulkAction.from_json(await self._c.send(create("cancel", filters, run_ids, ...)))

    async def replay(self, *, run_ids: Iterable[str] | None = None, payload: Any = ...,
                     **filters: Unpack[RunSelection]) -> BulkAction:
        call = create("replay", filters, run_ids, payload)
        return BulkAction.from_json(await self._c.send(call))

    async def count(self, **filters: Unpack[RunSelection]) -> int:
        return int((await self._c.send(count(filters)))["total"])

    async def retrieve(self, action_id: str) -> BulkAction:
        return BulkAction.from_json(await self._c.send(one(action_id)))

    async def list(self, limit: int = 20, cursor: str | None = None) -> BulkActions_:
        data = (await self._c.send(page(limit, cursor)))["data"]
        return [BulkAction.from_json(a) for a in data]

    async def abort(self, action_id: str) -> BulkAction:
        return BulkAction.from_json(await self._c.send(one(action_id, "abort")))

    async def wait(self, action_id: str, timeout: float = 600.0,
                   interval: float = 0.5) -> BulkAction:
        deadline = time.monotonic() + timeout
        while not (action := await self.retrieve(action_id)).is_final:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"bulk action {action_id} is still {action.status} "
                                   f"({action.processed}/{action.total}) after {timeout}s")
            await asyncio.sleep(interval)
        return action
