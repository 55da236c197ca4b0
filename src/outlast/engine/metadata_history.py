"""What each metadata write changed, kept in its ``metadata`` event for the run page.

A task that reports progress writes metadata hundreds of times; the run page shows those
writes as the Metadata card's history (newest first, capped), not as timeline rows. Each
write's event keeps, per operation, the key, the operation and short previews of the
value before and after, so the history reads "progress: 41 → 42" without keeping copies
of the whole metadata (up to 256 KB) in every event.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from outlast.jsonutil import loads

#: writes the run page shows; the rest are counted
HISTORY_LIMIT = 50
#: operations kept per write (a client may update many keys at once); the rest are counted
MAX_CHANGES = 20
#: characters of a value's JSON kept in a preview
PREVIEW_CHARS = 80


def preview(value: Any) -> str:
    """A value's JSON, cut to ``PREVIEW_CHARS`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS - 1] + "…"


Apply = Callable[[dict[str, Any], list[dict[str, Any]]], dict[str, Any]]


def changes(before: dict[str, Any], ops: list[dict[str, Any]],
            apply_ops: Apply) -> list[dict[str, Any]]:
    """Per operation of one write (already checked and applied by ``apply_ops``): op, key,
    the value's preview before and after (None when the key was absent), its argument."""
    keys = {str(op["key"]) for op in ops}
    state = {k: before[k] for k in keys if k in before}
    out: list[dict[str, Any]] = []
    for op in ops[:MAX_CHANGES]:
        key = str(op["key"])
        old = preview(state[key]) if key in state else None
        state = apply_ops(state, [op])
        change = {"op": op["op"], "key": key, "old": old,
                  "new": preview(state[key]) if key in state else None}
        if op["op"] in ("increment", "decrement", "append"):
            change["arg"] = preview(op.get("value"))
        out.append(change)
    if len(ops) > MAX_CHANGES:
        out.append({"op": "more", "key": "", "old": None, "new": None,
                    "arg": str(len(ops) - MAX_CHANGES)})
    return out


def entry(row: dict[str, Any]) -> dict[str, Any]:
    """One write for the history: when, who (``api``, the run's attempt, or the child
    run that wrote to its parent or root) and its changes. A write recorded before changes
    were kept lists its keys only."""
    data: dict[str, Any] = loads(row["data"]) or {}
    listed = data.get("changes")
    if listed is None:
        listed = [{"op": None, "key": k, "old": None, "new": None}
                  for k in data.get("keys") or []]
    return {"id": row["id"], "at": row["at"], "attempt": row["attempt"],
            "by": data.get("by"), "changes": listed}
