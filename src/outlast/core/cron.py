"""When a schedule fires: pure functions over a cron expression, a time zone and epoch seconds.

Parsing and matching are cronsim's (the evaluator behind Healthchecks.io). It walks local
wall-clock time in the schedule's zone and follows cron's DST rules: a job at a fixed time
that falls into a spring-forward gap runs once, at the first valid minute after the gap
(02:30 → 03:00), and a fixed time that occurs twice on fall-back runs once, on its first
occurrence; jobs with a wildcard hour run in both repeated hours, since those are
distinct minutes. Outlast adds what cronsim leaves out: exactly five fields (minute
precision), the ``@hourly``-style macros, IANA zone lookup, and the no-back-fill plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from outlast.errors import ValidationError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: how many skipped ticks one catch-up records row by row (the fired tick counts them all)
MAX_SKIPPED_RECORDED = 100
_FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELD_SIZES = (60, 24, 31, 12, 7)
UPCOMING = 5


def expand(cron: str) -> str:
    """The five-field form of ``cron``; ValidationError when it is not valid cron."""
    if not isinstance(cron, str) or not cron.strip():
        raise ValidationError("cron must be a non-empty string such as '0 * * * *'")
    text = " ".join(cron.split())
    text = MACROS.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValidationError(
            f"invalid cron {cron!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week) or one of {', '.join(MACROS)}, got {len(fields)} field(s)"
        )
    _check_steps(cron, fields)
    try:
        CronSim(text, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    except CronSimError as exc:
        raise ValidationError(f"invalid cron {cron!r}: {exc}") from None
    return text


def _check_steps(cron: str, fields: list[str]) -> None:
    """Each ``/step`` at most its field's size (cronsim reads any number of digits)."""
    for field, name, size in zip(fields, _FIELD_NAMES, _FIELD_SIZES, strict=True):
        for part in field.split(","):
            step = part.partition("/")[2]
            if step.isdigit() and step.isascii() and not 1 <= int(step) <= size:
                raise ValidationError(
                    f"invalid cron {cron!r}: the {name} step /{step} must be 1 to {size}",
                    option="cron")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValidationError when it does not exist."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValidationError(f"unknown time zone {name!r}: use an IANA name like 'Europe/Paris'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"unknown time zone {name!r}: use an IANA name like 'Europe/Paris' or 'UTC'"
        ) from None


def checked(cron: str, tz: str) -> str:
    """The five-field cron after checking both the expression and the zone."""
    expanded = expand(cron)
    zone(tz)
    return expanded


def describe(cron: str) -> str:
    """A plain-English reading of ``cron`` ("At 09:00 on Monday through Friday")."""
    return str(CronSim(expand(cron), datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))).explain())


def _times(cron: str, tz: str, after: float) -> CronSim:
    start = datetime.fromtimestamp(after, zone(tz))
    return CronSim(expand(cron), start)


def next_after(cron: str, tz: str, after: float) -> float:
    """The first fire time strictly after epoch ``after``."""
    return next(_times(cron, tz, after)).timestamp()


def upcoming(cron: str, tz: str, after: float, count: int = UPCOMING) -> list[datetime]:
    """The next ``count`` fire times after ``after``, as aware datetimes in the zone."""
    return list(islice(_times(cron, tz, after), count))


def iso_times(times: list[datetime]) -> list[str]:
    return [t.isoformat() for t in times]


@dataclass(frozen=True)
class TickPlan:
    """What to do with a due schedule: fire ``fire``, skip ``skipped``, wait for ``next_tick``.

    ``skipped_count`` counts every due tick passed over; ``skipped`` holds the latest of
    them, at most ``MAX_SKIPPED_RECORDED``, for the dashboard.
    """

    fire: float
    next_tick: float
    skipped: tuple[float, ...] = ()
    skipped_count: int = 0


def plan(cron: str, tz: str, next_tick: float, now: float) -> TickPlan | None:
    """The decision for a schedule whose next nominal tick is ``next_tick`` at ``now``.

    None when nothing is due yet. After downtime several ticks are due; only the latest
    fires (no back-fill) and the earlier ones are reported as skipped.
    """
    if next_tick > now:
        return None
    times = _times(cron, tz, next_tick)
    fire, count = next_tick, 0
    recent: list[float] = []
    while True:
        following = next(times).timestamp()
        if following > now:
            return TickPlan(fire, following, tuple(recent), count)
        recent.append(fire)
        if len(recent) > MAX_SKIPPED_RECORDED:
            recent.pop(0)
        fire, count = following, count + 1


def payload(*, fire: float, last: float | None, cron: str, tz: str, schedule_id: str,
            external_id: str | None) -> dict[str, object]:
    """The JSON payload of a scheduled run (read by ``schedules.ScheduledPayload``)."""
    where = zone(tz)
    return {
        "timestamp": datetime.fromtimestamp(fire, where).isoformat(),
        "last_timestamp": None if last is None else datetime.fromtimestamp(last, where).isoformat(),
        "timezone": tz,
        "schedule_id": schedule_id,
        "external_id": external_id,
        "upcoming": iso_times(upcoming(cron, tz, fire)),
    }
