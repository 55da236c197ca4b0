"""What a blob reference looks like, and which values surely need none.

Shared by the engine, which keeps large values in the blob store (``engine/blobs.py``),
and a worker's child, which records a step's result without waiting only when the engine
would surely keep it in its row (``sdk.durable.RecordAhead``): both sides answer that
question with the same rule. Imports nothing, so a child loads no engine for it.
"""

from __future__ import annotations

#: how a reference's JSON starts: ``{"$blob": key, "size": n}``
REF_START = '{"$blob":'


def surely_inline(text: str, threshold: int) -> bool:
    """Whether a value whose JSON is ``text`` stays in its row, whatever its characters:
    under ``threshold`` bytes even at UTF-8's four a character, and not looking like a
    reference (such a value always goes to the blob store)."""
    return len(text) * 4 <= threshold and not text.startswith(REF_START)
