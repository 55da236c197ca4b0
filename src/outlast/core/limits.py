"""Queue limits: counts and rates, checked the same way in code, the API, the CLI and the
dashboard.

A queue's ``concurrency_limit`` and ``total_limit`` are counts of EXECUTING runs;
``rate_limit`` and ``key_rate_limit`` are starts per sliding window, written ``COUNT/WINDOW``
(``"100/m"``, ``"10/s"``, ``"20/30s"``). The claim's flow policy (``engine/flow.py``) reads
the parsed ``Rate``; the SDK checks a ``Queue`` and a limit change before any round trip.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outlast import inputs
from outlast.durations import parse_duration
from outlast.errors import ValidationError

_UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")


@dataclass(frozen=True)
class Rate:
    """At most ``count`` starts in any window of ``window`` seconds."""

    count: int
    window: float

    def __str__(self) -> str:
        return f"{self.count}/{_window_text(self.window)}"


def _window_text(window: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if window == size:
            return unit
    return f"{window:g}s"


def parse_rate(text: object, option: str = "rate_limit") -> Rate:
    """``"100/m"``, ``"10/s"``, ``"1000/h"``, ``"5/d"`` or ``"20/30s"`` → ``Rate``."""
    found = _RATE.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValidationError(
            f"{option}: expected COUNT/WINDOW like '100/m', '10/s' or '20/30s', got {text!r}",
            option=option)
    count = int(found.group(1))
    unit = found.group(2)
    window = _UNITS.get(unit)
    if window is None:
        try:
            window = parse_duration(unit, option)
        except ValidationError as exc:
            raise ValidationError(
                f"{option}: unknown window {unit!r} in {text!r} ({exc.message}); use s, m, h, d "
                "or a duration like 30s", option=option) from None
    if count < 1 or window <= 0:
        raise ValidationError(f"{option}: count and window must be positive, got {text!r}",
                              option=option)
    inputs.integer(count, f"{option} count", 1)
    return Rate(count, window)


def opt_rate(text: str | None) -> Rate | None:
    return None if text is None else parse_rate(text)


#: the limits a queue has, each None for "no limit"
LIMITS = ("concurrency_limit", "total_limit", "rate_limit", "key_rate_limit")
_COUNTS = ("concurrency_limit", "total_limit")


def check_limits(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validated limit values (counts ≥ 1, rates as COUNT/WINDOW, None for no limit)."""
    unknown = set(changes) - set(LIMITS)
    if unknown:
        raise ValidationError(f"unknown queue setting(s): {', '.join(sorted(unknown))}; "
                              f"expected some of {', '.join(LIMITS)}")
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            out[name] = None
        elif name in _COUNTS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationError(f"{name} must be a positive integer or null, got {value!r}",
                                      option=name)
            out[name] = inputs.integer(value, name, 1)  # an INTEGER column
        else:
            out[name] = str(parse_rate(value, name))
    return out
