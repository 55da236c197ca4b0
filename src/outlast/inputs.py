"""The ranges every input must fall in, checked once where it enters Outlast.

The SDK's option parsing, the HTTP handlers and the in-process client all call these, so
a value out of range is the same ``ValidationError`` (HTTP 400) naming the field wherever
it comes from, and never reaches the store, where it would be a 500 or, worse, a row that
breaks every later listing (an infinite time is stored, but cannot be sent as JSON).

    times       finite epoch seconds, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z
    durations   finite seconds, 0 to 100 years
    integers    within the column that stores them: INT4 (priority, attempts, limits),
                INT8 (event and log ids)
    texts       no NUL character (PostgreSQL text cannot hold one) and no unpaired UTF-16
                surrogate (it cannot be encoded as UTF-8); JSON values: no lone surrogate
"""

from __future__ import annotations

import math
import re
from typing import Any

from outlast.errors import ValidationError

MIN_TIME = 0.0
#: 9999-12-31T23:59:59Z, the last second a ``datetime`` can show
MAX_TIME = 253_402_300_799.0
MAX_DURATION = 100 * 365 * 86400.0
INT4 = (-(2**31), 2**31 - 1)
INT8 = (-(2**63), 2**63 - 1)

_SURROGATE = re.compile("[\ud800-\udfff]")


def time(value: float, field: str) -> float:
    """``value`` if it is a finite epoch time between 1970 and 9999."""
    if not math.isfinite(value) or not MIN_TIME <= value <= MAX_TIME:
        raise ValidationError(f"{field}: {value!r} is not a time between 1970-01-01 and "
                              "9999-12-31 (epoch seconds 0 to 253402300799)", option=field)
    return value


def duration(value: float, field: str) -> float:
    """``value`` if it is a finite number of seconds between 0 and 100 years."""
    if not math.isfinite(value) or not 0 <= value <= MAX_DURATION:
        raise ValidationError(f"{field}: {value:g} seconds is not a duration between 0 and "
                              "100 years", option=field)
    return value


def integer(value: Any, field: str, low: int = INT4[0], high: int = INT4[1]) -> int:
    """``value`` if it is an integer (not a bool) between ``low`` and ``high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field}: expected an integer, got {value!r}", option=field)
    if not low <= value <= high:
        raise ValidationError(f"{field}: must be between {low} and {high}, got {value}",
                              option=field)
    return value


def text(value: str, field: str) -> str:
    """``value`` if the store can hold it: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise ValidationError(f"{field}: must not contain a NUL character", option=field)
    if not value.isascii() and _SURROGATE.search(value):
        raise ValidationError(f"{field}: contains an unpaired UTF-16 surrogate (not valid "
                              "Unicode text)", option=field)
    return value


def json_text(encoded: str, field: str) -> str:
    """``encoded`` (JSON written with ``ensure_ascii=False``) if it holds no lone surrogate.

    NUL needs no check here: JSON escapes it as ``\\u0000``.
    """
    if not encoded.isascii() and _SURROGATE.search(encoded):
        raise ValidationError(f"{field}: contains an unpaired UTF-16 surrogate (not valid "
                              "Unicode text)", option=field)
    return encoded


def query_int(raw: str | None, field: str, default: int, low: int = INT8[0],
              high: int = INT8[1]) -> int:
    """An integer query value (plain ASCII digits, optional minus) within the range."""
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,30}", raw):
        raise ValidationError(f"{field}: expected an integer, got {raw!r}", option=field)
    return integer(int(raw), field, low, high)


def shown_time(value: float | None) -> float | None:
    """A stored time as the API shows it: None when it is not a time between 1970 and 9999.

    Rows written before these checks may hold an infinite or far-away time; JSON cannot
    carry infinity and clients cannot turn 1e300 into a date, so one such row would
    otherwise break every listing that includes it.
    """
    if value is None or not math.isfinite(value) or not MIN_TIME <= value <= MAX_TIME:
        return None
    return value
