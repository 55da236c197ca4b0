"""A run's metadata as stored: JSON of at most ``METADATA_LIMIT`` bytes, whether it is set
when the run is triggered (``TriggerOptions.metadata``) or changed while it runs
(``engine/metadata.py``). One check for both, so a run can never hold metadata that its
next change would refuse."""

from __future__ import annotations

from typing import Any

from outlast.errors import PayloadTooLargeError
from outlast.jsonutil import dumps

#: Trigger.dev's limit too: metadata is for progress and small results, not data.
METADATA_LIMIT = 256 * 1024


def metadata_json(metadata: dict[str, Any]) -> str:
    """``metadata`` as the JSON stored; PayloadTooLargeError (413) past the limit."""
    text = dumps(metadata, "metadata")
    size = len(text.encode())
    if size > METADATA_LIMIT:
        raise PayloadTooLargeError(
            f"run metadata would be {size} bytes; the limit is {METADATA_LIMIT} bytes "
            "(256 KB). Keep large results in the output or a stream.", limit=METADATA_LIMIT)
    return text
