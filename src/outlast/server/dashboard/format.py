"""Jinja filters: times, durations, money and JSON as people read them.

A filter never raises: a row written before times were range-checked (a start in 1e300
seconds, an infinite timeout) shows "–" where its time would be, and the rest of the page
still renders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from outlast.engine.statuses import FINAL, RunStatus
from outlast.inputs import shown_time

#: status → chip colour class; the palette lives in dashboard.css
STATUS_TONE = {
    "DELAYED": "muted", "QUEUED": "muted", "EXECUTING": "blue", "WAITING": "violet",
    "PARKED": "amber",
    "COMPLETED": "green", "FAILED": "red", "CRASHED": "red", "SYSTEM_FAILURE": "red",
    "TIMED_OUT": "orange", "EXPIRED": "muted", "CANCELED": "muted",
}


def tone(status: str | None) -> str:
    return STATUS_TONE.get(status or "", "muted")


def is_final(status: str) -> bool:
    return RunStatus(status) in FINAL


def _utc(ts: float | None) -> datetime | None:
    """``ts`` as a UTC datetime; None when there is none or it is no date (inf, 1e300)."""
    if ts is None or shown_time(ts) is None:
        return None
    return datetime.fromtimestamp(ts, UTC)


def timestamp(ts: float | None) -> str:
    """``2026-01-01 12:00:03`` in UTC, or an en dash."""
    when = _utc(ts)
    return "–" if when is None else when.strftime("%Y-%m-%d %H:%M:%S")


def clock_time(ts: float | None, now: float | None = None) -> str:
    """``12:00:03`` today, ``Jan 3, 12:00`` otherwise (UTC)."""
    when = _utc(ts)
    if ts is None or when is None:
        return "–"
    if now is not None and abs(now - ts) < 20 * 3600:
        return when.strftime("%H:%M:%S")
    return when.strftime("%b %-d, %H:%M")


#: how a ``<time>`` reads: its server (UTC) text, which the page's script rewrites in the
#: viewer's zone (``dashboard.js`` reads ``data-format``)
TIME_STYLES: dict[str, Callable[[float | None, float | None], str]] = {
    "full": lambda ts, now: timestamp(ts) + " UTC",
    "clock": clock_time,
    "precise": lambda ts, now: precise_time(ts),
}


def when(ts: float | None, style: str = "full", now: float | None = None) -> Markup:
    """A ``<time>`` element for ``ts``: UTC text without JavaScript, the viewer's own zone
    with it, and the UTC time on hover either way; an en dash when there is no time."""
    moment = _utc(ts)
    if ts is None or moment is None:
        return Markup("–")
    iso = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Markup('<time datetime="{}" data-format="{}" title="{} UTC">{}</time>').format(
        iso, style, timestamp(ts), TIME_STYLES[style](ts, now))


def duration(seconds: float | None) -> str:
    """``830 ms``, ``4.2 s``, ``3m 05s``, ``2h 10m``; an en dash for None."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds == int(seconds) else f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    if not math.isfinite(ts):
        return "–"
    delta = max(0.0, now - ts)
    if delta < 60:
        return f"{delta:.0f}s ago"
    if delta < 3600:
        return f"{delta // 60:.0f}m ago"
    if delta < 86400:
        return f"{delta // 3600:.0f}h ago"
    return f"{delta // 86400:.0f}d ago"


def cost(value: float | None) -> str:
    """Dollars with enough digits to see a fraction of a cent; an en dash for none."""
    if not value:
        return "–"
    if value >= 1:
        return f"${value:,.2f}"
    if value < 0.000001:
        return "<$0.000001"
    return "$" + f"{value:.6f}".rstrip("0")


def precise_time(ts: float | None) -> str:
    """``22:11:18.123`` (UTC) for log lines."""
    when = _utc(ts)
    return "–" if when is None else when.strftime("%H:%M:%S.%f")[:-3]


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def run_duration(run: dict[str, Any], now: float) -> float | None:
    """A run record's execution time (``engine.numbers``: the running attempt's so far
    included); None before the run first started. ``now`` is kept for the templates that
    pass it: the record was made at the same time."""
    return None if run.get("started_at") is None else float(run["duration"])


def byte_size(n: int | None) -> str:
    """``812 B``, ``4.0 KiB``, ``1.3 GiB``; an en dash for None."""
    if n is None:
        return "–"
    size, unit = float(n), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"


def count(n: int | None) -> str:
    """``1,234,567``; an en dash for None (not known yet)."""
    return "–" if n is None else f"{n:,}"


FILTERS = {
    "tone": tone, "timestamp": timestamp, "duration": duration, "cost": cost,
    "pretty_json": pretty_json, "precise_time": precise_time, "byte_size": byte_size,
    "count": count,
}
