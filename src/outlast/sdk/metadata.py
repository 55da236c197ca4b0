"""``metadata``: small JSON state a running task updates and subscribers see live.

    from outlast import metadata

    metadata.set("progress", 0.5)
    metadata.increment("processed", 10)
    metadata.append("log", "step 2 done")
    metadata.get("progress")      # 0.5
    metadata.current()            # the whole dict

Every update goes through the worker to the database at once (fenced by the attempt's
lease), appends a ``metadata`` run event and wakes realtime subscribers. The whole
document is limited to 256 KB; an update past that raises ``PayloadTooLargeError`` and
changes nothing. Outside a running task every call raises ``DurableUsageError``.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any
from weakref import WeakKeyDictionary

from outlast.sdk.durable import DurableRun, active

_cache: WeakKeyDictionary[DurableRun, dict[str, Any]] = WeakKeyDictionary()


def _update(what: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
    run = active(f"metadata.{what}")
    result: dict[str, Any] = run.runtime("metadata", {"run_id": run.run_id,
                                                      "lease_id": run.lease_id, "ops": ops})
    _cache[run] = result
    return result


def _read(what: str) -> dict[str, Any]:
    run = active(f"metadata.{what}")
    cached = _cache.get(run)
    return cached if cached is not None else _update(what, [])


class _Metadata:
    """The running task's metadata (see the module docstring)."""

    def set(self, key: str, value: Any) -> None:
        _update("set", [{"op": "set", "key": key, "value": value}])

    def delete(self, key: str) -> None:
        _update("delete", [{"op": "delete", "key": key}])

    def increment(self, key: str, amount: float = 1) -> None:
        _update("increment", [{"op": "increment", "key": key, "value": amount}])

    def decrement(self, key: str, amount: float = 1) -> None:
        _update("decrement", [{"op": "increment", "key": key, "value": -amount}])

    def append(self, key: str, value: Any) -> None:
        """Add ``value`` to the list at ``key`` (a missing key starts a list)."""
        _update("append", [{"op": "append", "key": key, "value": value}])

    def update(self, values: dict[str, Any]) -> None:
        """Set several keys in one write."""
        _update("update", [{"op": "set", "key": k, "value": v} for k, v in values.items()])

    def get(self, key: str, default: Any = None) -> Any:
        return copy.deepcopy(_read("get").get(key, default))

    def current(self) -> dict[str, Any]:
        return copy.deepcopy(_read("current"))

    async def set_async(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.set, key, value)

    async def increment_async(self, key: str, amount: float = 1) -> None:
        await asyncio.to_thread(self.increment, key, amount)

    async def append_async(self, key: str, value: Any) -> None:
        await asyncio.to_thread(self.append, key, value)


metadata = _Metadata()
