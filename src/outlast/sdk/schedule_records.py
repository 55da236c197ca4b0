"""What schedules hand out: the payload of a scheduled run, and a schedule as read back.

``ScheduledPayload`` is a pydantic model, defined in ``scheduled_payload.py`` and loaded
from here on first use: the SDK's client reads schedules back as ``Schedule`` and so
imports this module, and building a model at import (pydantic, its plugins' entry points)
was a sixth of what a worker's fork server loads before its first child.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from outlast.core.cron import zone

if TYPE_CHECKING:
    from outlast.sdk.scheduled_payload import ScheduledPayload

__all__ = ["Schedule", "ScheduledPayload"]


def __getattr__(name: str) -> Any:
    """``ScheduledPayload``, imported when first asked for (see the module's docstring)."""
    if name == "ScheduledPayload":
        from outlast.sdk.scheduled_payload import ScheduledPayload

        return ScheduledPayload
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
