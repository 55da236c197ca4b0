"""The text format written by ``core/prometheus.py``: what parsers must read back."""

from __future__ import annotations

import math

import pytest

from outlast.core import prometheus as prom
from tests.metrics.promtext import parse, value


def test_label_values_with_quotes_backslashes_and_newlines_read_back_as_written() -> None:
    odd = 'a "quoted" \\ back\nslash, {braces}=, ünïcode'
    family = prom.gauge("outlast_test", "help with \\ and\nnewline", [({"task": odd}, 2)])
    series = parse(prom.render([family]))
    assert value(series, "outlast_test", task=odd) == 2


def test_help_text_is_escaped() -> None:
    text = prom.render([prom.gauge("outlast_test", "one\\two\nthree", [({}, 1)])])
    assert "# HELP outlast_test one\\\\two\\nthree\n" in text


def test_histogram_buckets_are_cumulative_and_end_at_inf_equal_to_count() -> None:
    h = prom.Histogram("outlast_test_seconds", "h", ("task",), buckets=(1.0, 5.0))
    for v in (0.5, 1.0, 3.0, 10.0):
        h.observe(v, "t")
    series = parse(prom.render([h.family()]))
    bucket = "outlast_test_seconds_bucket"
    assert value(series, bucket, task="t", le="1") == 2  # 0.5 and 1.0: le is inclusive
    assert value(series, bucket, task="t", le="5") == 3
    assert value(series, bucket, task="t", le="+Inf") == 4
    assert value(series, "outlast_test_seconds_count", task="t") == 4
    assert value(series, "outlast_test_seconds_sum", task="t") == 14.5


def test_counters_only_go_up_and_keep_their_total_name() -> None:
    c = prom.Counter("outlast_things_total", "c", ("kind",))
    c.inc("a")
    c.inc("a", amount=2.5)
    with pytest.raises(ValueError):
        c.inc("a", amount=-1)
    text = prom.render([c.family()])
    assert "# TYPE outlast_things_total counter\n" in text
    assert value(parse(text), "outlast_things_total", kind="a") == 3.5


@pytest.mark.parametrize(("number", "written"), [
    (3.0, "3"), (0.25, "0.25"), (math.inf, "+Inf"), (-math.inf, "-Inf"), (math.nan, "NaN"),
    (1e300, "1e+300"), (-2, "-2"),
])
def test_values_are_written_as_go_floats(number: float, written: str) -> None:
    assert prom.format_value(number) == written


def test_bad_names_are_refused_when_declared() -> None:
    with pytest.raises(ValueError):
        prom.Counter("outlast_things", "a counter without _total")
    with pytest.raises(ValueError):
        prom.gauge("9lives", "h", [])
    with pytest.raises(ValueError):
        prom.gauge("outlast_x", "h", [({"bad-label": "v"}, 1)])
    with pytest.raises(ValueError):
        prom.Histogram("outlast_h", "h", ("le",))


def test_a_family_with_no_samples_still_parses() -> None:
    series = parse(prom.render([prom.gauge("outlast_empty", "none yet", [])]))
    assert series == {}


def test_the_strict_reader_refuses_what_the_format_forbids() -> None:
    with pytest.raises(AssertionError):
        parse("outlast_x 1\n")  # no TYPE before the sample
    with pytest.raises(AssertionError):
        parse('# HELP outlast_x h\n# TYPE outlast_x gauge\noutlast_x{a="1} 1\n')
    with pytest.raises(AssertionError):
        parse("# HELP outlast_x h\n# TYPE outlast_x gauge\noutlast_x 1")  # no final newline
