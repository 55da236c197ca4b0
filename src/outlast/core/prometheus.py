"""The Prometheus text exposition format (0.0.4), and the few instruments Outlast keeps.

Outlast's numbers come from two places: counts read from the database when a scraper
asks (gauges), and counters and histograms a process keeps while it works. Both become
``Family`` records rendered here. There is no client library: the format is a page of
rules, and a library's process-global registry fits numbers read on demand badly (each
scrape would have to reset and refill gauges that belong to nobody between scrapes).

The rules kept (Prometheus' "Exposition formats", text format 0.0.4):

- one ``# HELP`` and one ``# TYPE`` line per family, before all of its samples; HELP
  text escapes backslash and line feed, label values escape backslash, double quote and
  line feed;
- a counter's name ends in ``_total`` in its HELP, TYPE and sample lines alike;
- a histogram is cumulative ``_bucket{le="…"}`` samples ending with ``le="+Inf"`` (equal
  to ``_count``), then ``_sum`` and ``_count``, for every label set;
- values are Go floats: ``+Inf``, ``-Inf`` and ``NaN`` spelled so.
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[tuple[str, str], ...]

#: seconds, from a fast step to an hour-long report: the durations tasks have
DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0, 600.0, 1800.0, 3600.0)
#: seconds a database round trip takes, from a local SQLite write to a slow network
LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class Sample:
    """One line: ``suffix`` is what follows the family's name (``_bucket``, ``_sum``…)."""

    labels: Labels
    value: float
    suffix: str = ""


@dataclass(frozen=True)
class Family:
    """A metric's HELP, TYPE and samples; names are checked here, once, not per line."""

    name: str
    kind: Kind
    help: str
    samples: tuple[Sample, ...] = ()

    def __post_init__(self) -> None:
        if not _METRIC_NAME.fullmatch(self.name):
            raise ValueError(f"invalid metric name {self.name!r}")
        if self.kind == "counter" and not self.name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {self.name!r}")
        for sample in self.samples:
            for label, _ in sample.labels:
                if not _LABEL_NAME.fullmatch(label) or label.startswith("__"):
                    raise ValueError(f"invalid label name {label!r} in {self.name}")


def gauge(name: str, help: str, rows: Iterable[tuple[dict[str, str], float]]) -> Family:
    """A gauge family from ``(labels, value)`` pairs."""
    return Family(name, "gauge", help,
                  tuple(Sample(tuple(labels.items()), value) for labels, value in rows))


def render(families: Iterable[Family]) -> str:
    """The whole page, ending in a line feed as the format asks."""
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(f"{family.name}{s.suffix}{format_labels(s.labels)} {format_value(s.value)}"
                     for s in family.samples)
    return "\n".join(lines) + "\n" if lines else ""


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels) + "}"


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


# -- instruments a process keeps ---------------------------------------------------------


class Counter:
    """Counts per label set; only ever goes up while the process lives (a restart starts
    from zero, which ``rate()`` reads as a reset)."""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.family_name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        Family(name, "counter", help)  # checks the name now, not at the first scrape

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = _key(self.labelnames, labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(_key(self.labelnames, labels), 0.0)

    def family(self) -> Family:
        with self._lock:
            items = sorted(self._values.items())
        return Family(self.family_name, "counter", self.help, tuple(
            Sample(tuple(zip(self.labelnames, key, strict=True)), v) for key, v in items))


class Gauge:
    """A value per label set that is set, not accumulated (busy slots)."""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = ()) -> None:
        self.family_name, self.help, self.labelnames = name, help, tuple(labelnames)
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()
        Family(name, "gauge", help)

    def set(self, value: float, *labels: str) -> None:
        key = _key(self.labelnames, labels)
        with self._lock:
            self._values[key] = value

    def family(self) -> Family:
        with self._lock:
            items = sorted(self._values.items())
        return Family(self.family_name, "gauge", self.help, tuple(
            Sample(tuple(zip(self.labelnames, key, strict=True)), v) for key, v in items))


class Histogram:
    """Observations counted into fixed buckets per label set, with their sum."""

    def __init__(self, name: str, help: str, labelnames: Sequence[str] = (),
                 buckets: Sequence[float] = DURATION_BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("buckets must be distinct and ascending")
        if "le" in labelnames:
            raise ValueError("'le' is the bucket label of a histogram")
        self.family_name, self.help, self.labelnames = name, help, tuple(labelnames)
        self.buckets = tuple(float(b) for b in buckets if not math.isinf(b))
        #: per label set: count per bucket (not cumulative; +Inf last), then the sum
        self._values: dict[tuple[str, ...], tuple[list[int], float]] = {}
        self._lock = threading.Lock()
        Family(name, "histogram", help)

    def observe(self, value: float, *labels: str) -> None:
        self.observe_many((value,), *labels)

    def observe_many(self, values: Sequence[float], *labels: str) -> None:
        """Observe each of ``values`` under one label set: one lock for a claim's runs."""
        key = _key(self.labelnames, labels)
        buckets, nan = self.buckets, len(self.buckets)
        # the first bucket each is at most; NaN is at most none: +Inf's
        indexes = [bisect_left(buckets, v) if v == v else nan for v in values]
        with self._lock:
            counts, total = self._values.get(key) or ([0] * (nan + 1), 0.0)
            for index in indexes:
                counts[index] += 1
            self._values[key] = (counts, total + sum(values))

    def count(self, *labels: str) -> int:
        with self._lock:
            found = self._values.get(_key(self.labelnames, labels))
            return sum(found[0]) if found else 0

    def family(self) -> Family:
        with self._lock:
            items = sorted((k, (list(c), s)) for k, (c, s) in self._values.items())
        samples: list[Sample] = []
        for key, (counts, total) in items:
            labels = tuple(zip(self.labelnames, key, strict=True))
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                samples.append(Sample((*labels, ("le", format_value(bound))), running,
                                      "_bucket"))
            samples.append(Sample(labels, total, "_sum"))
            samples.append(Sample(labels, running, "_count"))
        return Family(self.family_name, "histogram", self.help, tuple(samples))


def _key(names: tuple[str, ...], labels: tuple[str, ...]) -> tuple[str, ...]:
    """The labels as the key of their series (a worker counts several times a run: the
    common case, labels that are strings already, makes no new tuple)."""
    if len(labels) != len(names):
        raise ValueError(f"expected labels {names}, got {labels}")
    for v in labels:
        if type(v) is not str:
            return tuple(str(v) for v in labels)
    return labels
