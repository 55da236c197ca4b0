"""Parse the human durations and instants that trigger options accept.

``"90s"``, ``"10m"``, ``"1h30m"``, ``"2d"``, ``"1w"``, a number of seconds, a
``timedelta`` or (for instants) an aware ``datetime``. Anything else is a
``ValidationError`` naming the option, so ``delay="soon"`` fails loudly at trigger time;
so is a duration over 100 years or an instant outside 1970-9999 (``outlast.inputs``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from outlast import inputs
from outlast.errors import ValidationError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

DurationLike = str | int | float | timedelta


def parse_duration(value: DurationLike, option: str = "duration") -> float:
    """Seconds in ``value``; ValidationError for negative, unreadable or huge values."""
    if isinstance(value, bool):
        raise ValidationError(f"{option}: expected a duration, got {value!r}", option=option)
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip().lower(), option)
    else:
        raise ValidationError(f"{option}: expected a duration, got {value!r}", option=option)
    if not math.isfinite(seconds):
        raise ValidationError(f"{option}: must be a finite number, got {value!r}", option=option)
    if seconds < 0:
        raise ValidationError(f"{option}: must not be negative, got {value!r}", option=option)
    return inputs.duration(seconds, option)


def _parse_text(text: str, option: str) -> float:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValidationError(
            f"{option}: cannot read {text!r} as a duration (use e.g. '30s', '10m', '1h30m', '2d')",
            option=option,
        )
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_instant(value: DurationLike | datetime, now: float, option: str = "delay") -> float:
    """Epoch seconds for a delay (relative to ``now``) or an aware datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{option}: datetime must be timezone-aware", option=option)
        return inputs.time(value.timestamp(), option)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return inputs.time(parsed.timestamp(), option)
    return inputs.time(now + parse_duration(value, option), option)
