"""The payload of a run started by a schedule, as a pydantic model (``ScheduledPayload``).

A module of its own so that reading schedules (``schedule_records.Schedule``) does not load
pydantic; ``schedule_records`` and ``schedules`` still hand it out by name.
"""

from __future__ import annotations

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
