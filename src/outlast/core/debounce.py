"""The ``debounce`` trigger option: collapse rapid triggers with one key into one run.

``debounce={"key": "user-17", "delay": "5s", "mode": "trailing", "max_delay": "1m"}``

- ``trailing`` (default): the run starts ``delay`` after the last trigger; each trigger
  within that time replaces the payload (last wins) and postpones the start again, but
  never beyond ``max_delay`` after the first trigger (default 1 hour). A trigger after
  the run has started makes a new run.
- ``leading``: the first trigger's run starts at once; triggers within ``delay`` of the
  previous one (and within ``max_delay`` of the first) return that run unchanged.

Keys are per task. Every trigger returns the run it joined, so callers see one id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outlast import inputs
from outlast.durations import parse_duration
from outlast.errors import ValidationError

MODES = ("trailing", "leading")
DEFAULT_MAX_DELAY = 3600.0
_FIELDS = {"key", "delay", "mode", "max_delay"}


@dataclass(frozen=True)
class Debounce:
    key: str
    delay: float
    mode: str = "trailing"
    max_delay: float = DEFAULT_MAX_DELAY

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "delay": self.delay, "mode": self.mode,
                "max_delay": self.max_delay}


def parse_debounce(value: Any) -> Debounce | None:
    """A checked ``Debounce``; every problem names the field that is wrong."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"debounce: expected an object with key and delay, got {value!r}",
                              option="debounce")
    unknown = set(value) - _FIELDS
    if unknown:
        raise ValidationError(f"debounce: unknown field(s) {', '.join(sorted(unknown))}; "
                              f"expected some of {', '.join(sorted(_FIELDS))}", option="debounce")
    key = value.get("key")
    if not isinstance(key, str) or not key.strip() or len(key) > 512:
        raise ValidationError(f"debounce.key: expected a non-empty string, got {key!r}",
                              option="debounce")
    inputs.text(key, "debounce.key")
    if "delay" not in value:
        raise ValidationError("debounce.delay is required (for example '5s')", option="debounce")
    delay = parse_duration(value["delay"], "debounce.delay")
    mode = value.get("mode", "trailing")
    if mode not in MODES:
        raise ValidationError(f"debounce.mode: expected 'trailing' or 'leading', got {mode!r}",
                              option="debounce")
    max_delay = DEFAULT_MAX_DELAY if value.get("max_delay") is None else parse_duration(
        value["max_delay"], "debounce.max_delay")
    if delay <= 0:
        raise ValidationError("debounce.delay must be positive", option="debounce")
    if max_delay < delay:
        raise ValidationError(f"debounce.max_delay ({max_delay:g}s) must be at least "
                              f"debounce.delay ({delay:g}s)", option="debounce")
    return Debounce(key, delay, mode, max(max_delay, delay))
