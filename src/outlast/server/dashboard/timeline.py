"""The run page's trace: the span tree (``outlast.engine.trace``) laid out on one time axis.

Pure functions from spans to rows: each row has its depth in the tree, its parent, and an
offset and a length as percentages of the run's lifetime, so the template only draws
boxes. A span still going on is drawn up to ``now``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from outlast.engine.trace import Span, Trace

#: the thinnest bar drawn, in percent of the axis (an instant still shows)
_MIN_WIDTH = 0.4
#: span statuses that are no run status, and their colour (``format.tone`` for the rest)
_TONES = {"SUSPENDED": "violet", "RELEASED": "muted", "INFO": "muted", "DEBUG": "muted",
          "WARNING": "orange", "ERROR": "red"}


@dataclass(frozen=True)
class Row:
    span: Span
    depth: int
    parent: str | None
    tone: str
    offset: float  # seconds after the run was created
    duration: float | None  # None for a log line (an instant)
    left: float  # percent of the axis
    width: float  # percent of the axis
    open: bool  # still going on: drawn up to now
    ancestors: tuple[str, ...] = ()  # span ids from the root down to the parent

    @property
    def expandable(self) -> bool:
        return bool(self.span.children)


@dataclass(frozen=True)
class Layout:
    start: float
    end: float
    rows: list[Row]

    @property
    def total(self) -> float:
        return self.end - self.start

    def ticks(self, count: int = 4) -> list[tuple[float, float]]:
        """(percent, seconds) of evenly spaced marks on the axis."""
        return [(i * 100 / count, self.total * i / count) for i in range(count + 1)]


def layout(trace: Trace, now: float, tone: Callable[[str | None], str]) -> Layout:
    """The rows of ``trace`` in tree order; ``tone(status)`` names a status's colour."""
    root = trace.root
    origin = root.start
    end = max([now if root.end is None else float(root.end)]
              + [_end(s, now) for _, s in root.walk()])
    total = max(end - origin, 1e-3)
    rows: list[Row] = []

    def visit(span: Span, depth: int, above: tuple[str, ...]) -> None:
        stop = _end(span, now)
        left = min(max(0.0, (span.start - origin) / total * 100), 100 - _MIN_WIDTH)
        width = min(max(_MIN_WIDTH, (stop - max(span.start, origin)) / total * 100),
                    100 - left)
        rows.append(Row(span, depth, above[-1] if above else None,
                        _TONES.get(span.status) or tone(span.status), span.start - origin,
                        None if span.kind == "log" else stop - span.start, left, width,
                        span.end is None and span.kind != "log", above))
        for child in span.children:
            visit(child, depth + 1, (*above, span.id))

    visit(root, 0, ())
    return Layout(origin, end, rows)


def _end(span: Span, now: float) -> float:
    return float(span.end) if span.end is not None else max(now, span.start)
