"""Reading a ``/metrics`` page the way a scraper would, strictly.

Two parsers must accept it: ``prometheus_client``'s (the reference implementation of the
text format) and the line grammar below, which is stricter than that parser about what
it lets pass (a HELP and a TYPE before each family's samples, samples of one family
together, histogram series complete and cumulative).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
VALUE = r"(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)"
HELP = re.compile(rf"# HELP ({NAME}) (?:[^\\\n]|\\[\\n])*")
TYPE = re.compile(rf"# TYPE ({NAME}) (counter|gauge|histogram|summary|untyped)")
SAMPLE = re.compile(rf"({NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?\}})? ({VALUE})")

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Series:
    """Every sample as ``{(name, labels): value}``; AssertionError on any bad line."""
    assert text.endswith("\n"), "the page must end with a line feed"
    strict = _strict(text)
    reference: Series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            reference[(sample.name, frozenset(sample.labels.items()))] = sample.value
    assert _same(strict, reference), "the two parsers read different values"
    return reference


def _strict(text: str) -> Series:
    out: Series = {}
    kinds: dict[str, str] = {}
    helped: set[str] = set()
    done: set[str] = set()  # families whose samples ended: none may follow
    current = None
    for line in text.rstrip("\n").split("\n"):
        if m := HELP.fullmatch(line):
            assert m.group(1) not in helped, f"second HELP: {line}"
            helped.add(m.group(1))
            continue
        if m := TYPE.fullmatch(line):
            name = m.group(1)
            assert name in helped and name not in kinds, f"TYPE out of place: {line}"
            kinds[name] = m.group(2)
            if current is not None:
                done.add(current)
            current = name
            continue
        m = SAMPLE.fullmatch(line)
        assert m, f"not a sample line: {line!r}"
        family = _family(m.group(1), kinds)
        assert family == current and family not in done, f"sample out of its family: {line}"
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        key = (m.group(1), frozenset((k, _unescape(v)) for k, v in labels))
        assert key not in out, f"duplicate series: {line}"
        out[key] = _value(m.group(3))
    _check_histograms(out, kinds)
    return out


def _family(sample: str, kinds: dict[str, str]) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample.removesuffix(suffix)
        if base != sample and kinds.get(base) == "histogram":
            return base
    assert sample in kinds, f"sample {sample} has no TYPE line before it"
    return sample


def _check_histograms(series: Series, kinds: dict[str, str]) -> None:
    buckets: dict[tuple[str, frozenset[tuple[str, str]]], list[tuple[float, float]]] = \
        defaultdict(list)
    for (name, labels), value in series.items():
        if name.endswith("_bucket") and kinds.get(name[:-7]) == "histogram":
            le = dict(labels)["le"]
            rest = frozenset(kv for kv in labels if kv[0] != "le")
            buckets[(name[:-7], rest)].append((_value(le), value))
    for (name, labels), found in buckets.items():
        found.sort()
        counts = [n for _, n in found]
        assert counts == sorted(counts), f"{name} buckets are not cumulative"
        assert math.isinf(found[-1][0]), f"{name} has no +Inf bucket"
        assert series[(f"{name}_count", labels)] == counts[-1], f"{name}_count != +Inf"
        assert (f"{name}_sum", labels) in series, f"{name} has no _sum"


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), value)


def _value(text: str) -> float:
    return float(text.replace("Inf", "inf"))


def _same(a: Series, b: Series) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)


def value(series: Series, name: str, **labels: str) -> float:
    """One series' value; KeyError naming what is there when it is missing."""
    key = (name, frozenset(labels.items()))
    if key not in series:
        near = sorted(str(dict(k[1])) for k in series if k[0] == name)
        raise KeyError(f"{name}{labels} not in the page; {name} has: {near}")
    return series[key]
