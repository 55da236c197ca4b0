"""Run metadata: the operations, and every way metadata is written (its 256 KB limit:
``core/run_metadata.py``).

Three writers, one write path (``_write``: apply, check the size, store, append a
``metadata`` run event, wake realtime subscribers — all in the caller's transaction):

- a running attempt on its own run (``metadata.set`` in a task), fenced by its lease;
- a running attempt on its parent or root run (``metadata.parent``/``metadata.root``),
  fenced by the *calling* attempt's lease. The target is read from the caller's own row,
  so a child can reach its parent and root and no other run. A run with no parent (or
  that is its own root) writes to itself, as Trigger.dev does. A finished target no
  longer changes: the write is skipped (``applied`` is False) rather than failing the
  child, which may well outlive a parent that did not wait for it;
- a client from outside any run (``runs.update_metadata``), on a run that is not final:
  a finished run's metadata is the record of how it ended, so a change is refused with
  ``InvalidTransitionError`` (409).

Lock order is child before parent (the caller's row, then the target's), the order
completion takes and in which a cancel locks a whole tree before changing it, so
concurrent writers do not deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from outlast.core.run_metadata import metadata_json
from outlast.engine import events, journal
from outlast.engine import metadata_history as history
from outlast.engine.statuses import is_final
from outlast.errors import (
    InvalidTransitionError,
    RunNotFoundError,
    ValidationError,
)
from outlast.jsonutil import loads
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

METADATA_OPS = ("set", "delete", "increment", "decrement", "append")
Target = Literal["self", "parent", "root"]
TARGETS: tuple[Target, ...] = ("self", "parent", "root")


def apply_ops(metadata: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The metadata after ``ops`` (``{"op", "key", "value"}``), without touching the input."""
    out = dict(metadata)
    for item in ops:
        op, key, value = _checked(item)
        if op == "set":
            out[key] = value
        elif op == "delete":
            out.pop(key, None)
        elif op in ("increment", "decrement"):
            amount = _number(key, op, value)
            out[key] = _incremented(key, op, out.get(key, 0),
                                    -amount if op == "decrement" else amount)
        else:
            current = out.get(key)
            out[key] = [*current, value] if isinstance(current, list) else (
                [value] if current is None else [current, value])
    return out


def _checked(item: Any) -> tuple[str, str, Any]:
    if not isinstance(item, dict):
        raise ValidationError(f"metadata: an operation is an object, got {item!r}")
    op, key = item.get("op"), item.get("key")
    if op not in METADATA_OPS or not isinstance(key, str) or not key:
        raise ValidationError(
            f"metadata: bad operation {item!r} (op is one of {', '.join(METADATA_OPS)}; "
            "key a non-empty string)")
    return str(op), key, item.get("value")


def _number(key: str, op: str, by: Any) -> float | int:
    if isinstance(by, bool) or not isinstance(by, int | float):
        raise ValidationError(f"metadata.{op}({key!r}): the amount must be a number")
    return by


def _incremented(key: str, op: str, current: Any, by: float | int) -> float | int:
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ValidationError(
            f"metadata.{op}({key!r}): the current value {current!r} is not a number")
    return current + by


def set_ops(values: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"a": 1}`` as operations: set each key, leave the others alone."""
    return [{"op": "set", "key": k, "value": v} for k, v in values.items()]


def target_id(row: Row, target: str) -> str:
    """The run that ``target`` names, seen from ``row`` (the calling run)."""
    if target not in TARGETS:
        raise ValidationError(f"metadata target must be one of {', '.join(TARGETS)}, "
                              f"got {target!r}")
    if target == "parent":
        return str(row.get("parent_id") or row["id"])
    if target == "root":
        return str(row.get("root_id") or row["id"])
    return str(row["id"])


@dataclass(frozen=True)
class MetadataWrite:
    """What a write did: the run written, its metadata now, and whether it changed."""

    run_id: str
    metadata: dict[str, Any]
    applied: bool


def _write(tx: Tx, row: Row, ops: list[dict[str, Any]], now: float,
           **event: Any) -> dict[str, Any]:
    """Apply ``ops`` to ``row``'s metadata (locked by the caller); no ops just reads it."""
    current: dict[str, Any] = loads(row["metadata"]) or {}
    if not ops:
        return current
    updated = apply_ops(current, ops)
    tx.run("update_metadata", id=row["id"], metadata=metadata_json(updated), now=now)
    keys = sorted({str(op["key"]) for op in ops})
    events.run_changed(tx, row, "metadata", now, keys=keys,
                       changes=history.changes(current, ops, apply_ops), **event)
    return updated


class MetadataOps:
    """The engine's metadata writes (``engine.metadata``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def from_attempt(self, run_id: str, lease_id: str, ops: list[dict[str, Any]],
                     target: str = "self") -> MetadataWrite:
        """An attempt's write to its own, its parent's or its root's metadata."""
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            row = journal.hold_lease(tx, run_id, lease_id)
            to = target_id(row, target)
            if to == run_id:
                return MetadataWrite(run_id, _write(tx, row, ops, now), True)
            other = tx.one("lock_run", id=to)
            if other is None:  # parents are never deleted while a child runs
                raise RunNotFoundError(f"the {target} run {to} is gone", run_id=to)
            if is_final(other["status"]):
                return MetadataWrite(to, loads(other["metadata"]) or {}, False)
            return MetadataWrite(to, _write(tx, other, ops, now, by=run_id), True)

    def update(self, env: str, run_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """A write from outside any run (API, client); refused once the run is final."""
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            row = journal.lock_in_env(tx, env, run_id)
            if ops and is_final(row["status"]):
                raise InvalidTransitionError(
                    f"run {run_id} is {row['status']}: the metadata of a finished run is "
                    "kept as it ended and can no longer be updated", run_id=run_id)
            return _write(tx, row, ops, now, by="api")

    def history(self, run_id: str,
                limit: int = history.HISTORY_LIMIT) -> tuple[list[dict[str, Any]], int]:
        """The latest ``limit`` metadata writes of a run, newest first, and how many it
        had in all (``metadata_history.entry`` gives each one's shape)."""
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_latest_events_of_kind", run_id=run_id, kind="metadata",
                          limit=limit)
            total = tx.one("count_events_of_kind", run_id=run_id, kind="metadata")
        return [history.entry(r) for r in rows], int(total["n"]) if total else len(rows)
