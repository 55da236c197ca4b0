"""Values too large for a row: kept in the blob store, the row holding a reference.

Payloads, outputs, step results and token completion values over the threshold
(``OUTLAST_BLOB_THRESHOLD``, 512 KB) are written to the blob store (``store/blobs``)
before the row that references them commits; the row keeps ``{"$blob": key, "size": n}``
in their place. Nothing over ``OUTLAST_MAX_PAYLOAD_BYTES`` (100 MB) is kept at all.

Where a reference may stand, and who resolves it:

- a column's whole text (a run's payload and output, a journal entry's result, a
  waitpoint's output): ``text``/``value`` give the real one back;
- inside the result of a wait (``wait_token``, ``trigger_wait`` journal entries): the
  ``output`` of each outcome, copied there from the token's or the child run's column
  without reading the blob (a child is in its parent's tree: retention deletes them
  together); ``entry`` resolves those.

A value whose own JSON starts like a reference (``{"$blob": …``) is always kept in the blob
store, whatever its size: a reference in a row is therefore always one this module wrote,
never a user's value that looks like one. Keys are ``<run id>/<name>-<random>``: one run
owns each blob and retention deletes them by run (``delete_runs``); a value written by an
attempt whose write then failed (a stale lease, a rollback) is an orphan that retention
finds by its run having no row (``orphans``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from outlast.core.blob_refs import REF_START, surely_inline
from outlast.errors import PayloadTooLargeError
from outlast.ids import new_id
from outlast.jsonutil import dumps
from outlast.store.blobs import BlobStore

#: journal kinds whose result holds outcomes (``{"ok", "output", …}`` or a list of them)
WAIT_KINDS = frozenset({"wait_token", "trigger_wait"})
#: a column that holds a value this large may reference a blob (cheap test before parsing)
_REF_MAX = 200


def is_ref(value: Any) -> bool:
    """Whether a JSON value is a blob reference (``"$blob"`` its first key)."""
    return (isinstance(value, dict) and next(iter(value), None) == "$blob"
            and isinstance(value["$blob"], str) and set(value) <= {"$blob", "size"})


def ref_of(text: str | None) -> dict[str, Any] | None:
    """The reference a column's text holds, or None (an ordinary value)."""
    if text is None or len(text) > _REF_MAX or not text.startswith(REF_START):
        return None
    value = json.loads(text)
    return value if is_ref(value) else None


class Blobs:
    """The engine's blob member: what to keep apart, and reading it back."""

    def __init__(self, store: BlobStore, threshold: int, max_bytes: int) -> None:
        self.store = store
        self.threshold = threshold
        self.max_bytes = max_bytes

    # -- writing --------------------------------------------------------------------------

    def keep_text(self, owner: str, name: str, text: str, what: str = "payload") -> str:
        """The text a row keeps for ``text`` (JSON): itself, or a reference to its blob."""
        if surely_inline(text, self.threshold):
            return text  # small whatever its characters: no encoding needed to know it
        data = text.encode()
        if len(data) > self.max_bytes:
            raise PayloadTooLargeError(
                f"{what} is {len(data)} bytes; the limit is {self.max_bytes} "
                "(OUTLAST_MAX_PAYLOAD_BYTES)", limit=self.max_bytes)
        if len(data) <= self.threshold and not text.startswith(REF_START):
            return text
        key = f"{owner}/{name}-{new_id('blob').removeprefix('blob_')}"
        self.store.put(key, data)
        return dumps({"$blob": key, "size": len(data)})

    def keep(self, owner: str, name: str, value: Any, what: str = "payload") -> Any:
        """``value``, or the reference to it once kept in the blob store."""
        text = dumps(value, what, limit=None)
        kept = self.keep_text(owner, name, text, what)
        return value if kept is text else json.loads(kept)

    # -- reading --------------------------------------------------------------------------

    def text(self, text: str | None) -> str | None:
        """A column's text with a reference replaced by the JSON it stands for."""
        ref = ref_of(text)
        return text if ref is None else self.store.get(ref["$blob"]).decode()

    def value(self, value: Any) -> Any:
        """A loaded value with a reference replaced by the value it stands for."""
        return json.loads(self.store.get(value["$blob"])) if is_ref(value) else value

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A journal entry (``journal.entries``) with its result's references resolved."""
        result = self.value(entry.get("result"))
        if entry.get("kind") in WAIT_KINDS:
            result = self.outcomes(result)
        return entry if result is entry.get("result") else entry | {"result": result}

    def outcomes(self, result: Any) -> Any:
        """A wait's result (one outcome or a list) with each ``output`` resolved."""
        if isinstance(result, list):
            return [self.outcomes(item) for item in result]
        if isinstance(result, dict) and is_ref(result.get("output")):
            return result | {"output": self.value(result["output"])}
        return result

    def runs(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Claimed run rows, as a worker hands them to its children: payload and journal
        resolved (read after the claim committed, not while it held its locks)."""
        for row in rows:
            if ref_of(row.get("payload")) is not None:
                row["payload"] = self.text(row["payload"])
            if row.get("journal"):
                row["journal"] = [self.entry(e) for e in row["journal"]]
        return rows

    def stream(self, text: str | None) -> Iterator[bytes]:
        """A column's value as JSON bytes, in chunks (a reference's from the blob store)."""
        ref = ref_of(text)
        if ref is None:
            yield (text if text is not None else "null").encode()
        else:
            yield from self.store.stream(ref["$blob"])

    def size(self, text: str | None) -> int:
        """The byte size of a column's value (a reference's, its blob's)."""
        ref = ref_of(text)
        if ref is not None:
            return int(ref.get("size") or 0)
        return len((text or "null").encode())

    # -- deleting -------------------------------------------------------------------------

    def delete_runs(self, run_ids: list[str]) -> int:
        return self.store.delete_runs(run_ids) if run_ids else 0
