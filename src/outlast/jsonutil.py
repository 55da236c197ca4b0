"""JSON in and out of the store, with the size limit every payload obeys."""

from __future__ import annotations

import json
from typing import Any

from outlast import inputs
from outlast.errors import PayloadTooLargeError, ValidationError

#: the default limit of a payload, output, step result or wait output (the setting
#: ``OUTLAST_MAX_PAYLOAD_BYTES``, checked where values are kept: ``engine/blobs.py``)
MAX_PAYLOAD_BYTES = 100 * 1024 * 1024


#: ``json.dumps`` with these settings would make an encoder per call (a payload of a
#: batch's thousand runs, each): one, shared (``encode`` keeps no state between calls)
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any, what: str = "payload", limit: int | None = MAX_PAYLOAD_BYTES) -> str:
    """Compact JSON; ValidationError if ``value`` is not JSON, PayloadTooLarge over
    ``limit`` bytes (None: no limit here, the caller checks the size)."""
    if value is None:  # a payload left out: the encoder would make its machinery for it
        return "null"
    try:
        text = _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from exc
    inputs.json_text(text, what)  # a lone surrogate cannot be stored as UTF-8
    if limit is not None and len(text) * 4 > limit and len(text.encode()) > limit:
        raise PayloadTooLargeError(f"{what} is {len(text.encode())} bytes; the limit is {limit}")
    return text


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
