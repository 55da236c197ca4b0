"""What schedules hand out: the payload of a scheduled run, and a schedule as read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pydantic
from pydantic import ConfigDict, ValidationInfo, field_validator

from outlast.core.cron import zone


class ScheduledPayload(pydantic.BaseModel):
    """The payload of a run started by a schedule.

    ``timestamp`` is the tick's nominal time (not when the run started) and every time is
    an aware ``datetime`` in the schedule's zone; ``upcoming`` holds the next five ticks.
    """

    model_config = ConfigDict(frozen=True)

    timezone: str
    schedule_id: str
    external_id: str | None = None
    timestamp: datetime
    last_timestamp: datetime | None = None
    upcoming: tuple[datetime, ...] = ()

    @field_validator("timestamp", "last_timestamp", "upcoming")
    @classmethod
    def _in_zone(cls, value: Any, info: ValidationInfo) -> Any:
        """Times arrive as ISO text with an offset; give them the schedule's IANA zone."""
        name = info.data.get("timezone")
        if name is None or value is None:
            return value
        where = zone(name)
        if isinstance(value, tuple):
            return tuple(v.astimezone(where) for v in value)
        return value.astimezone(where)


def _time(value: float | None, tz: str) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, zone(tz))


@dataclass(frozen=True)
class Schedule:
    """A cron schedule as the API returns it; times are in the schedule's zone."""

    id: str
    task: str
    cron: str
    timezone: str
    active: bool
    source: str  # "declarative" (from @schedules.task) or "imperative" (created by a call)
    description: str = ""
    external_id: str | None = None
    deduplication_key: str | None = None
    inactive_reason: str | None = None
    next_run: datetime | None = None
    last_run: datetime | None = None
    upcoming: list[datetime] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def declarative(self) -> bool:
        return self.source == "declarative"

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> Schedule:
        tz = data["timezone"]
        return cls(
            id=data["id"], task=data["task"], cron=data["cron"], timezone=tz,
            active=data["active"], source=data["source"],
            description=data.get("description", ""), external_id=data.get("external_id"),
            deduplication_key=data.get("deduplication_key"),
            inactive_reason=data.get("inactive_reason"),
            next_run=_time(data.get("next_run"), tz), last_run=_time(data.get("last_run"), tz),
            upcoming=[datetime.fromisoformat(t).astimezone(zone(tz))
                      for t in data.get("upcoming", [])],
            created_at=_time(data.get("created_at"), tz),
            updated_at=_time(data.get("updated_at"), tz), raw=data,
        )
