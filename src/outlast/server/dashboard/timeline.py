"""The run page's waterfall: attempts, events and child runs laid out on one time axis.

Pure functions from records to rows: each row has an offset and a length as percentages
of the run's lifetime, so the template only draws boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: an event's bar lasts until the next event; the run's state is the event's status
_MIN_WIDTH = 0.4


@dataclass(frozen=True)
class Span:
    label: str
    kind: str  # "run" | "attempt" | "event" | "child"
    tone: str
    start: float
    end: float
    left: float  # percent of the axis
    width: float  # percent of the axis
    detail: str = ""
    link: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Waterfall:
    start: float
    end: float
    rows: list[Span]

    @property
    def total(self) -> float:
        return self.end - self.start


def _place(origin: float, total: float, start: float, end: float) -> tuple[float, float]:
    left = min(max(0.0, (start - origin) / total * 100), 100 - _MIN_WIDTH)
    width = max(_MIN_WIDTH, (end - max(start, origin)) / total * 100)
    return left, min(width, 100 - left)


def build(run: dict[str, Any], attempts: list[dict[str, Any]], events: list[dict[str, Any]],
          children: list[dict[str, Any]], now: float, tone: Any) -> Waterfall:
    """The waterfall of ``run``; ``tone(status)`` names a status's colour."""
    origin = float(run["created_at"])
    ends = [run.get("finished_at") or now] + [e["at"] for e in events]
    end = max(float(x) for x in ends)
    total = max(end - origin, 1e-3)

    def span(label: str, kind: str, status: str | None, start: float, stop: float,
             detail: str = "", link: str | None = None) -> Span:
        left, width = _place(origin, total, start, stop)
        return Span(label, kind, tone(status), start, stop, left, width, detail, link)

    rows = [span("Run", "run", run["status"], origin, end, run["status"])]
    for a in attempts:
        rows.append(span(f"Attempt {a['number']}", "attempt", a["status"], a["started_at"],
                         a["finished_at"] or end, a["status"]))
    # metadata writes are the Metadata card's history, not what the run did
    events = [e for e in events if e["kind"] != "metadata"]
    for i, e in enumerate(events):
        stop = events[i + 1]["at"] if i + 1 < len(events) else (
            e["at"] if run.get("finished_at") else end)
        rows.append(span(e["kind"].replace("_", " "), "event", e["status"], e["at"], stop,
                         e["status"] or ""))
    for c in children:
        rows.append(span(c["task"], "child", c["status"], c["created_at"],
                         c.get("finished_at") or end, c["status"], f"/runs/{c['id']}"))
    return Waterfall(origin, end, rows)
