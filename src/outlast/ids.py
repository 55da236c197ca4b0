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
#: a byte as one digit: its low five bits (256 is a multiple of 32, so a uniformly random
#: byte gives a uniformly random digit)
_DIGIT_OF_BYTE = bytes(ord(_ALPHABET[b % 32]) for b in range(256))

#: random 16-digit tails (80 bits) drawn from the kernel ``_TAILS_DRAWN`` at a time, each
#: byte made a digit by ``bytes.translate``: a ``getrandom`` call per id was a seventh of
#: a bulk trigger's client CPU on a virtual machine, and writing the bits out digit by
#: digit in Python most of the rest. Popped from the end, which is atomic under the GIL,
#: so threads take each one once without a lock; emptied in a forked child, whose ids must
#: not repeat its parent's.
#:
#: Kept in descending order, and drawn afresh as a millisecond begins when fewer are left
#: than the millisecond before took (the rest dropped), so that the ids made one after
#: another in a millisecond (a batch's runs, a few hundred) come from one lot, in the
#: order they are made, as ids across milliseconds are: each new id goes at the end of the
#: indexes on ids, the database's cheapest insert (in random order a bulk trigger cost the
#: server a tenth more). Each tail is as random as before, only handed out in order. A
#: process making an id now and then (one trigger at a time) drops none.
_TAILS: list[str] = []
_TAILS_DRAWN = 1024
_TAIL = 16
#: ids made in the last millisecond that made any, and in the current one so far (counted
#: without a lock: a guess at how many the next millisecond takes)
_made = [0, 0]


def _tail() -> str:
    try:
        return _TAILS.pop()
    except IndexError:
        _draw()
        return _TAILS.pop()


def _draw() -> None:
    """A new lot of tails in place of what is left (one assignment: atomic under the GIL)."""
    drawn = os.urandom(_TAIL * _TAILS_DRAWN).translate(_DIGIT_OF_BYTE).decode("ascii")
    _TAILS[:] = sorted([drawn[i:i + _TAIL] for i in range(0, len(drawn), _TAIL)],
                       reverse=True)


#: the last millisecond an id was made in, and its ten digits (a batch's ids share them)
_last_millis: tuple[int, str] = (-1, "")


def _millis_digits(millis: int) -> str:
    global _last_millis
    last = _last_millis  # one read: another thread may replace it meanwhile
    if last[0] == millis:
        return last[1]
    if last[0] >> 10 == millis >> 10:  # the same 1.024 s: only the last pair is new
        digits = last[1][:8] + _PAIRS[millis & 1023]
    else:
        digits = "".join([_PAIRS[millis >> shift & 1023] for shift in (40, 30, 20, 10, 0)])
    _last_millis = (millis, digits)
    return digits


os.register_at_fork(after_in_child=_TAILS.clear)


def new_id(prefix: str) -> str:
    """``prefix_`` + 10 digits of milliseconds + 16 random digits.

    The milliseconds' digits are written once per millisecond (two digits, 10 bits, at a
    time from a table), the random ones drawn ready-made and in order (``_TAILS``).
    """
    millis = int(time.time() * 1000)
    made, last = _made, _last_millis
    if millis == last[0]:  # a batch's next id: its millisecond's digits are written
        digits = last[1]
    else:
        made[0], made[1] = made[1], 0
        if len(_TAILS) < made[0]:
            _draw()  # the millisecond's ids from one lot, in order
        digits = _millis_digits(millis)
    made[1] += 1
    try:
        tail = _TAILS.pop()
    except IndexError:
        tail = _tail()
    return f"{prefix}_{digits}{tail}"


def new_secret(nbytes: int = 24) -> str:
    """A URL-safe random secret (API keys, token callback URLs)."""
    return _encode(int.from_bytes(os.urandom(nbytes), "big"), (nbytes * 8 + 4) // 5)


def derived_secret(key: bytes, message: str) -> str:
    """A secret computed, not drawn: HMAC-SHA256 of ``message`` under ``key``, encoded as
    ``new_secret``'s are. Whoever holds ``key`` can compute it again; nobody else can."""
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return _encode(int.from_bytes(digest, "big"), (len(digest) * 8 + 4) // 5)
