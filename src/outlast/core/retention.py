"""How long finished runs are kept: one policy record, its defaults, and its parsing.

A run is *finished* once final (``COMPLETED``, ``CANCELED``, ``EXPIRED``) and *failed*
when it ended for a reason someone should look at: ``FAILED_STATUSES`` below, the one
definition of "failed" for retention. Failed runs usually deserve a longer life than
the successful ones, for the post-mortem, hence two periods.

The defaults (``DEFAULT_FINISHED`` 30 days, ``DEFAULT_FAILED`` 90 days) hold when the
project sets nothing: an unbounded history is a disk that fills and a database that
slows down, which nobody chooses on purpose; ``"forever"`` keeps everything for those who
do. Values come from ``[retention]`` in outlast.toml (per environment too) and from
``@task(retention=...)``; the worker stores each task's resolved policy with its
definition, so whichever process does upkeep applies the same one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from outlast.durations import parse_duration
from outlast.errors import ValidationError

DAY = 86400.0
DEFAULT_FINISHED = 30 * DAY
DEFAULT_FAILED = 90 * DAY
#: the final statuses kept for the ``failed`` period (all other final ones: ``finished``)
FAILED_STATUSES = frozenset({"FAILED", "CRASHED", "TIMED_OUT", "SYSTEM_FAILURE"})
#: the word for "never delete" in configuration and options
FOREVER = "forever"
_KEYS = ("finished", "failed")


@dataclass(frozen=True)
class Retention:
    """Seconds a finished run is kept, by kind of end; None keeps it forever."""

    finished: float | None = DEFAULT_FINISHED
    failed: float | None = DEFAULT_FAILED

    def for_status(self, status: str) -> float | None:
        """The period that applies to a run that ended in ``status``."""
        return self.failed if status in FAILED_STATUSES else self.finished

    def to_dict(self) -> dict[str, float | None]:
        return {"finished": self.finished, "failed": self.failed}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Retention:
        """The record ``to_dict`` wrote (a definition stored by an older worker has none:
        the defaults)."""
        if not data:
            return cls()
        return cls(finished=data.get("finished", DEFAULT_FINISHED),
                   failed=data.get("failed", DEFAULT_FAILED))


def parse_period(value: Any, option: str) -> float | None:
    """Seconds of one period: a duration (``"30d"``, ``timedelta``) or ``"forever"``.

    Zero is refused: a run deleted the moment it ends could not even be read back by
    whoever triggered it.
    """
    if isinstance(value, str) and value.strip().lower() == FOREVER:
        return None
    if not isinstance(value, str | int | float | timedelta) or isinstance(value, bool):
        raise ValidationError(f"{option}: expected a duration such as '30d' or 'forever', "
                              f"got {value!r}", option=option)
    seconds = parse_duration(value, option)
    if seconds <= 0:
        raise ValidationError(f"{option}: must be longer than zero (or 'forever'), "
                              f"got {value!r}", option=option)
    return seconds


def parse_retention(value: Any, base: Retention, option: str = "retention") -> Retention:
    """``base`` with what ``value`` sets.

    A single duration sets both periods (every run of the task is kept that long); a
    mapping ``{"finished": ..., "failed": ...}`` sets either or both.
    """
    if isinstance(value, Retention):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - set(_KEYS)
        if unknown:
            raise ValidationError(f"{option}: unknown key(s) {', '.join(sorted(unknown))} "
                                  f"(known: {', '.join(_KEYS)})", option=option)
        return Retention(
            finished=(parse_period(value["finished"], f"{option}.finished")
                      if "finished" in value else base.finished),
            failed=(parse_period(value["failed"], f"{option}.failed")
                    if "failed" in value else base.failed),
        )
    period = parse_period(value, option)
    return Retention(finished=period, failed=period)


def describe(seconds: float | None) -> str:
    """``30d``, ``12h``, ``90s`` or ``forever``: a period as people write it."""
    if seconds is None:
        return FOREVER
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
