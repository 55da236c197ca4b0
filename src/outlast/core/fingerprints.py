"""Which failures are the same failure: an error's fingerprint.

Two attempts fail "the same way" when they ran the same task and raised the same type
with the same message once the parts that change on every occurrence are taken out:
numbers, hex ids, UUIDs, quoted values and Outlast ids (``run_…``, ``tok_…``). The
fingerprint hashes that, short enough to sit in a URL and an index; the Errors page
groups by it (``engine/failures.py`` computes it once, when a failure is recorded).

Pure functions only: the same input gives the same fingerprint in every process and
every version, since stored fingerprints are compared with new ones.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

#: characters of a message read at most (a message can hold a whole response body)
MAX_MESSAGE = 2000
#: characters of a sample message kept with each occurrence
MAX_SAMPLE = 500
#: hex digits of a fingerprint
LENGTH = 16
#: the type given to an error that names none
UNKNOWN_TYPE = "Error"

# Order matters: quoted values first (whatever is inside them goes), then the ids that
# contain digits, then bare numbers. No placeholder holds a digit, a quote or a hex run,
# so normalizing twice changes nothing.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`"), "<str>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                r"[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\brun_[0-9a-z]{26}\b"), "<run>"),
    (re.compile(r"\b[a-z]{1,12}_[0-9a-z]{26}\b"), "<id>"),
    (re.compile(r"\b0[xX][0-9a-fA-F]+\b"), "<hex>"),
    # a long run of hex with a letter and a digit in it: a hash, an address, an id
    (re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
)


def normalize(message: str) -> str:
    """``message`` with what differs between occurrences replaced by placeholders:
    ``"order 42 for 'ada' timed out"`` → ``"order <n> for <str> timed out"``."""
    text = message[:MAX_MESSAGE]
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()


def fingerprint(task_id: str, error_type: str, message: str) -> str:
    """The group of a failure: task, error type and normalized message, hashed."""
    key = "\0".join((task_id, error_type or UNKNOWN_TYPE, normalize(message)))
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:LENGTH]


def error_parts(error: dict[str, Any] | None) -> tuple[str, str]:
    """(type, message) of a recorded error, whatever shape it came in."""
    error = error or {}
    kind = error.get("type")
    message = error.get("message")
    return (str(kind) if kind else UNKNOWN_TYPE,
            "" if message is None else str(message))


def sample(message: str) -> str:
    """The message kept with an occurrence: its start, whitespace collapsed."""
    return " ".join(message[:MAX_SAMPLE * 2].split())[:MAX_SAMPLE]


def is_fingerprint(text: str) -> bool:
    """A well-formed fingerprint (so a bad one in a URL is a 400, not a silent miss)."""
    return len(text) == LENGTH and all(c in "0123456789abcdef" for c in text)
