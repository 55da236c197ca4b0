"""Identifiers: a prefix, then 26 characters that sort by creation time.

Time-sortable ids keep the runs list (newest first) an index scan, and the random tail
makes them unguessable enough to be used in URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


#: every two-digit string, in order: digit pair ``n`` (0..1023) encodes 10 bits
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)
#: the 130 bits of an id, 10 at a time, most significant first
_PAIR_SHIFTS = tuple(range(120, -1, -10))


#: random 80-bit tails drawn from the kernel 400 at a time: a ``getrandom`` call per id
#: was a seventh of a bulk trigger's client CPU on a virtual machine. Popped from the end,
#: which is atomic under the GIL, so threads take each one once without a lock; emptied
#: in a forked child, whose ids must not repeat its parent's.
_TAILS: list[int] = []
_TAILS_DRAWN = 400


def _tail() -> int:
    try:
        return _TAILS.pop()
    except IndexError:
        drawn = os.urandom(10 * _TAILS_DRAWN)
        _TAILS.extend(int.from_bytes(drawn[i:i + 10], "big") for i in range(0, len(drawn), 10))
        return _TAILS.pop()


os.register_at_fork(after_in_child=_TAILS.clear)


def new_id(prefix: str) -> str:
    """``prefix_`` + 10 chars of milliseconds + 16 random chars.

    The 130 bits are written two digits (10 bits) at a time from a table rather than digit
    by digit (or through ``base64``, pure Python too): a batch of 1,000 runs takes 1,000.
    """
    number = int(time.time() * 1000) << 80 | _tail()
    return f"{prefix}_{''.join([_PAIRS[number >> shift & 1023] for shift in _PAIR_SHIFTS])}"


def new_secret(nbytes: int = 24) -> str:
    """A URL-safe random secret (API keys, token callback URLs)."""
    return _encode(int.from_bytes(os.urandom(nbytes), "big"), (nbytes * 8 + 4) // 5)


def derived_secret(key: bytes, message: str) -> str:
    """A secret computed, not drawn: HMAC-SHA256 of ``message`` under ``key``, encoded as
    ``new_secret``'s are. Whoever holds ``key`` can compute it again; nobody else can."""
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return _encode(int.from_bytes(digest, "big"), (len(digest) * 8 + 4) // 5)
