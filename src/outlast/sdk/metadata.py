"""``metadata``: small JSON state a running task updates and subscribers see live.

    from outlast import metadata

    metadata.set("progress", 0.5)
    metadata.increment("processed", 10)
    metadata.append("log", "step 2 done")
    metadata.get("progress")      # 0.5
    metadata.current()            # the whole dict

    metadata.parent.increment("children_done")   # the run that triggered this one
    metadata.root.append("log", "child 3 done")  # the first run of the tree

Every update goes through the worker to the database at once (fenced by the attempt's
lease), appends a ``metadata`` run event and wakes realtime subscribers. The whole
document is limited to 256 KB; an update past that raises ``PayloadTooLargeError`` and
changes nothing. Outside a running task every call raises ``DurableUsageError``.

``metadata.parent`` and ``metadata.root`` have the same update methods (no ``get``): they
write to the parent's or the root's metadata, for progress rolled up from children; the
256 KB limit is the target's, and its subscribers see the change. A run with no parent
(or that is its own root) writes to itself, as in Trigger.dev. A child cannot name any
other run. When the target has already finished, its metadata no longer changes: the
update is skipped with a warning in this run's logs, so a child that outlives its
parent does not fail for it.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from outlast.core.durable_requests import UpdateMetadata, UpdateRelatedMetadata
from outlast.sdk.durable import active
from outlast.sdk.logger import logger


def _update(what: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    run = active(f"metadata.{what}")
    result: dict[str, Any] = run.ask(UpdateMetadata(run.run_id, run.lease_id, ops))
    return result


def _update_related(target: str, what: str, ops: list[dict[str, Any]]) -> None:
    run = active(f"metadata.{target}.{what}")
    done: dict[str, Any] = run.ask(UpdateRelatedMetadata(run.run_id, run.lease_id, ops, target))
    if done["run_id"] != run.run_id and not done["applied"]:
        logger.warning(f"metadata.{target}.{what}: the {target} run {done['run_id']} has "
                       "finished, so its metadata no longer changes; the update was skipped",
                       run_id=done["run_id"])


def _read(what: str) -> dict[str, Any]:
    """Always from the database: children (``metadata.parent``) and callers outside the run
    (``runs.update_metadata``) change a running run's metadata too."""
    return _update(what, [])


class _Updates:
    """The update methods, shared by the run's own metadata and its parent's and root's."""

    def _write(self, what: str, ops: list[dict[str, Any]]) -> None:
        _update(what, ops)

    def set(self, key: str, value: Any) -> None:
        self._write("set", [{"op": "set", "key": key, "value": value}])

    def delete(self, key: str) -> None:
        self._write("delete", [{"op": "delete", "key": key}])

    def increment(self, key: str, amount: float = 1) -> None:
        self._write("increment", [{"op": "increment", "key": key, "value": amount}])

    def decrement(self, key: str, amount: float = 1) -> None:
        self._write("decrement", [{"op": "decrement", "key": key, "value": amount}])

    def append(self, key: str, value: Any) -> None:
        """Add ``value`` to the list at ``key`` (a missing key starts a list)."""
        self._write("append", [{"op": "append", "key": key, "value": value}])

    def update(self, values: dict[str, Any]) -> None:
        """Set several keys in one write."""
        self._write("update", [{"op": "set", "key": k, "value": v} for k, v in values.items()])

    async def set_async(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.set, key, value)

    async def increment_async(self, key: str, amount: float = 1) -> None:
        await asyncio.to_thread(self.increment, key, amount)

    async def decrement_async(self, key: str, amount: float = 1) -> None:
        await asyncio.to_thread(self.decrement, key, amount)

    async def append_async(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.append, key, value)


class _Related(_Updates):
    """``metadata.parent`` or ``metadata.root``: write-only, like Trigger.dev's."""

    def __init__(self, target: str) -> None:
        self._target = target

    def _write(self, what: str, ops: list[dict[str, Any]]) -> None:
        _update_related(self._target, what, ops)


class _Metadata(_Updates):
    """The running task's metadata (see the module docstring)."""

    #: the run that triggered this one (this run itself when it has no parent)
    parent = _Related("parent")
    #: the first run of this run's tree (this run itself when it is the root)
    root = _Related("root")

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(_read("get").get(key, default))

    def current(self) -> dict[str, Any]:
        return copy.deepcopy(_read("current"))


metadata = _Metadata()
