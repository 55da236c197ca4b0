"""JSON in and out of the store, with the size limit every payload obeys."""

from __future__ import annotations

import json
from typing import Any

from outlast import inputs
from outlast.errors import PayloadTooLargeError, ValidationError

MAX_PAYLOAD_BYTES = 3 * 1024 * 1024


def dumps(value: Any, what: str = "payload") -> str:
    """Compact JSON; ValidationError if ``value`` is not JSON, PayloadTooLarge over 3 MB."""
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from exc
    inputs.json_text(text, what)  # a lone surrogate cannot be stored as UTF-8
    if len(text) * 4 > MAX_PAYLOAD_BYTES and len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"{what} is {len(text.encode())} bytes; the limit is {MAX_PAYLOAD_BYTES}"
        )
    return text


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
