"""Trigger options: checked once, the same way for the SDK, the HTTP API and the CLI.

Every value is checked against the ranges in ``outlast.inputs`` (times, durations, column
integers, texts the store can hold), so nothing out of range reaches a run's row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from outlast import inputs
from outlast.core.debounce import Debounce, parse_debounce
from outlast.core.run_metadata import metadata_json
from outlast.core.versions import check_version
from outlast.durations import parse_duration, parse_instant
from outlast.errors import ValidationError
from outlast.machines import machine as check_machine

MAX_TAGS = 10
MAX_TAG_LENGTH = 128
DEFAULT_IDEMPOTENCY_TTL = 30 * 86400.0


@dataclass(frozen=True)
class TriggerOptions:
    delay: float | None = None  # absolute epoch seconds once resolved
    ttl: float | None = None
    idempotency_key: str | None = None
    idempotency_key_ttl: float | None = None
    concurrency_key: str | None = None
    queue: str | None = None
    priority: int = 0
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    max_attempts: int | None = None
    machine: str | None = None
    max_duration: float | None = None
    debounce: Debounce | None = None
    #: the version the run is pinned to from its trigger on (None: its first start pins it)
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict that ``parse_options`` reads back unchanged."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == () or value == {} or (f.name == "priority" and not value):
                continue
            if f.name == "delay":
                value = {"at": value}
            if isinstance(value, Debounce):
                value = value.to_json()
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


#: ``lock_to_version``: another name for ``version``
_OPTION_NAMES = {f.name for f in fields(TriggerOptions)} | {"lock_to_version"}


#: every default: what most triggers are given, one object for all of them (a new one set
#: its fourteen fields one by one, about 1 us per trigger; nothing changes a
#: ``TriggerOptions``, its metadata included)
_DEFAULTS = TriggerOptions()


def parse_options(raw: Mapping[str, Any] | None, now: float) -> TriggerOptions:
    """Validate user options; every problem is a ValidationError naming the option."""
    if raw is None:  # the common trigger: every default, nothing to check
        return _DEFAULTS
    if not isinstance(raw, Mapping):
        raise ValidationError(f"options: expected a mapping of option names to values, got "
                              f"{type(raw).__name__}")
    if not raw:
        return _DEFAULTS
    raw = dict(raw)
    unknown = set(raw) - _OPTION_NAMES
    if unknown:
        raise ValidationError(f"unknown trigger option(s): {', '.join(sorted(unknown))}")
    if raw.get("debounce") is not None and raw.get("idempotency_key") is not None:
        raise ValidationError("debounce and idempotency_key cannot be combined: a debounced "
                              "trigger already returns the run it joined", option="debounce")
    return TriggerOptions(
        delay=None if raw.get("delay") is None else parse_delay(raw["delay"], now),
        ttl=_opt_duration(raw.get("ttl"), "ttl"),
        idempotency_key=_opt_text(raw.get("idempotency_key"), "idempotency_key"),
        idempotency_key_ttl=_opt_duration(raw.get("idempotency_key_ttl"), "idempotency_key_ttl"),
        concurrency_key=_opt_text(raw.get("concurrency_key"), "concurrency_key"),
        queue=_opt_text(raw.get("queue"), "queue"),
        priority=inputs.integer(raw.get("priority", 0), "priority"),
        tags=_tags(raw.get("tags")),
        metadata=_metadata(raw.get("metadata")),
        max_attempts=_opt_positive_int(raw.get("max_attempts"), "max_attempts"),
        machine=_machine(raw.get("machine")),
        max_duration=_opt_duration(raw.get("max_duration"), "max_duration"),
        debounce=parse_debounce(raw.get("debounce")),
        version=_version(raw.get("version"), raw.get("lock_to_version")),
    )


def parse_delay(value: Any, now: float) -> float:
    """Epoch seconds from a delay: a duration, an aware datetime or ``{"at": epoch}``."""
    if isinstance(value, Mapping) and set(value) == {"at"}:
        at = value["at"]
        if isinstance(at, int | float) and not isinstance(at, bool):
            return inputs.time(float(at), "delay")
        raise ValidationError(f"delay: bad absolute time {at!r} (expected epoch seconds)",
                              option="delay")
    if not isinstance(value, str | int | float | timedelta | datetime) or isinstance(
            value, bool):
        raise ValidationError(f"delay: expected a duration or datetime, got {value!r}",
                              option="delay")
    return parse_instant(value, now, "delay")


def _opt_duration(value: Any, option: str) -> float | None:
    return None if value is None else parse_duration(value, option)


def _opt_text(value: Any, option: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{option}: expected a non-empty string, got {value!r}",
                              option=option)
    if len(value) > 512:
        raise ValidationError(f"{option}: longer than 512 characters", option=option)
    return inputs.text(value, option)


def _opt_positive_int(value: Any, option: str) -> int | None:
    return None if value is None else inputs.integer(value, option, 1)


def _tags(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) and t for t in value):
        raise ValidationError(f"tags: expected a list of non-empty strings, got {value!r}")
    if len(value) > MAX_TAGS:
        raise ValidationError(f"tags: at most {MAX_TAGS} tags, got {len(value)}")
    if any(len(t) > MAX_TAG_LENGTH for t in value):
        raise ValidationError(f"tags: each tag at most {MAX_TAG_LENGTH} characters")
    return tuple(dict.fromkeys(inputs.text(t, "tags") for t in value))


def _metadata(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"metadata: expected an object, got {value!r}")
    metadata_json(value)  # JSON without lone surrogates, within the 256 KB of a run's
    return value


def _version(version: Any, alias: Any) -> str | None:
    """``version`` or its alias ``lock_to_version`` (both only when they agree)."""
    if version is not None and alias is not None and version != alias:
        raise ValidationError(f"version {version!r} and lock_to_version {alias!r} differ: "
                              "give one of them", option="version")
    value = version if version is not None else alias
    return None if value is None else check_version(value)


def _machine(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"machine: expected a preset name, got {value!r}")
    return check_machine(value).name
