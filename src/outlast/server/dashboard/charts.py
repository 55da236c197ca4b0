"""Charts drawn on the server as inline SVG: no JavaScript, nothing to download.

Each function takes plain numbers and returns markup sized by a ``viewBox``, so the
chart scales with its container. Colours come from CSS classes (``tone-*``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 40, 22, 10


def nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at least ``value`` (a tidy axis top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _axis(top: float, labels: Sequence[str], unit: str) -> list[str]:
    plot_h = HEIGHT - BOTTOM - TOP
    parts = []
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        text = f"{value:g}{unit}"
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{y:.1f}" y2="{y:.1f}"/>'
                     f'<text class="axis" x="{LEFT - 6}" y="{y + 3:.1f}" '
                     f'text-anchor="end">{escape(text)}</text>')
    step = max(1, len(labels) // 6)
    slot = (WIDTH - LEFT) / max(1, len(labels))
    for i in range(0, len(labels), step):
        x = LEFT + slot * (i + 0.5)
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle">{escape(labels[i])}</text>')
    return parts


def stacked_bars(buckets: Sequence[dict[str, int]], labels: Sequence[str],
                 order: Sequence[str], tones: dict[str, str]) -> Markup:
    """One bar per bucket, split by key in ``order``; a title on each piece for hovering."""
    top = nice_max(max((sum(b.values()) for b in buckets), default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(buckets))
    parts = _axis(top, labels, "")
    for i, bucket in enumerate(buckets):
        y = float(HEIGHT - BOTTOM)
        for key in order:
            count = bucket.get(key, 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            parts.append(
                f'<rect class="bar tone-{tones.get(key, "muted")}" x="{LEFT + slot * i + 1:.1f}" '
                f'y="{y:.1f}" width="{max(1.0, slot - 2):.1f}" height="{h:.1f}">'
                f'<title>{escape(labels[i])} · {escape(key)}: {count}</title></rect>')
    return _svg(parts, "Runs per minute by status")


def lines(series: Mapping[str, Sequence[float | None]], labels: Sequence[str],
          unit: str = "s") -> Markup:
    """A line per series (gaps where a value is None), with a dot on each point."""
    values = [v for s in series.values() for v in s if v is not None]
    top = nice_max(max(values, default=0))
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(labels))
    parts = _axis(top, labels, unit)
    for n, (name, points) in enumerate(series.items()):
        coords = [(LEFT + slot * (i + 0.5), HEIGHT - BOTTOM - plot_h * v / top)
                  for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            parts.append(f'<polyline class="line series-{n}" points="{path}"/>')
        parts.extend(f'<circle class="dot series-{n}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                     f'<title>{escape(name)}: {_short(v, unit)}</title></circle>'
                     for (x, y), v in zip(coords, [v for v in points if v is not None],
                                          strict=True))
    return _svg(parts, "Duration percentiles")


def _short(value: float, unit: str) -> str:
    return f"{value:.3g}{unit}"


def _svg(parts: list[str], label: str) -> Markup:
    return Markup(f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
                  f'aria-label="{escape(label)}">'
                  + "".join(parts) + "</svg>")


SPARK_WIDTH, SPARK_HEIGHT = 120, 28


def sparkline(counts: Sequence[int], labels: Sequence[str], what: str = "failed") -> Markup:
    """Small bars, one per count, scaled to the largest; a title on each for hovering.
    A zero still shows a hairline, so an empty slot reads as "none", not "missing"."""
    top = max(max(counts, default=0), 1)
    slot = SPARK_WIDTH / max(1, len(counts))
    parts = []
    for i, count in enumerate(counts):
        h = max(1.0, (SPARK_HEIGHT - 2) * count / top)
        parts.append(
            f'<rect class="spark{" zero" if not count else ""}" x="{slot * i + 0.5:.1f}" '
            f'y="{SPARK_HEIGHT - h:.1f}" width="{max(1.0, slot - 1):.1f}" height="{h:.1f}">'
            f'<title>{escape(labels[i] if i < len(labels) else "")}: {count} {escape(what)}'
            f'</title></rect>')
    total = sum(counts)
    return Markup(f'<svg class="sparkline" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
                  f'preserveAspectRatio="none" role="img" '
                  f'aria-label="{total} {escape(what)} over time">' + "".join(parts) + "</svg>")
