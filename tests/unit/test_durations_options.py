"""Durations, instants and trigger options: every good form, and every bad one named."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from outlast import wait
from outlast.core.options import (
    DEFAULT_IDEMPOTENCY_TTL,
    MAX_TAGS,
    TriggerOptions,
    parse_options,
)
from outlast.durations import parse_duration, parse_instant
from outlast.errors import ValidationError

NOW = 1_767_225_600.0

GOOD_DURATIONS = [
    ("90s", 90.0), ("10m", 600.0), ("1h", 3600.0), ("1h30m", 5400.0), ("2d", 172800.0),
    ("1w", 604800.0), ("250ms", 0.25), ("1.5h", 5400.0), ("  5M ", 300.0), ("0s", 0.0),
    ("30", 30.0), ("2.5", 2.5), (0, 0.0), (15, 15.0), (1.25, 1.25),
    (timedelta(minutes=3), 180.0), (timedelta(0), 0.0), ("1d2h3m4s", 93784.0),
]


@pytest.mark.parametrize(("value", "seconds"), GOOD_DURATIONS)
def test_good_durations(value: Any, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


BAD_DURATIONS = [
    "soon", "", "  ", "-5s", "5 s", "5x", "m5", "1h 30m", "1h-30m", "five minutes", "1.h",
    -1, -0.001, timedelta(seconds=-1), True, False, None, [5], {"s": 5}, "P1D",
]


@pytest.mark.parametrize("value", BAD_DURATIONS, ids=repr)
def test_bad_durations_raise_naming_the_option(value: Any) -> None:
    with pytest.raises(ValidationError, match="ttl"):
        parse_duration(value, "ttl")


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=repr)
def test_non_finite_durations_are_rejected(value: float) -> None:
    with pytest.raises(ValidationError):
        parse_duration(value, "ttl")


def test_instants() -> None:
    aware = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert parse_instant("5m", NOW) == NOW + 300
    assert parse_instant(timedelta(hours=1), NOW) == NOW + 3600
    assert parse_instant(10, NOW) == NOW + 10
    assert parse_instant(aware, NOW) == aware.timestamp()
    assert parse_instant("2026-01-01T01:00:00+00:00", NOW) == aware.timestamp()
    plus9 = datetime(2026, 1, 1, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    assert parse_instant(plus9, NOW) == aware.timestamp()


@pytest.mark.parametrize("value", [datetime(2026, 1, 1), "2026-01-01T01:00:00", "soon"],
                         ids=repr)
def test_bad_instants(value: Any) -> None:
    with pytest.raises(ValidationError, match="delay"):
        parse_instant(value, NOW)


# -- trigger options ----------------------------------------------------------------------


def test_empty_options_are_the_defaults() -> None:
    assert parse_options(None, NOW) == TriggerOptions()
    assert parse_options({}, NOW) == TriggerOptions()
    assert parse_options({}, NOW + 1) is parse_options(None, NOW)  # one object, made once


def test_every_option_parsed() -> None:
    opts = parse_options(
        {
            "delay": "1h", "ttl": "10m", "idempotency_key": "order-42",
            "idempotency_key_ttl": "24h", "concurrency_key": "user-17", "queue": "api-calls",
            "priority": 10, "tags": ["user:17", "asset:AAPL", "user:17"],
            "metadata": {"progress": 0}, "max_attempts": 2, "machine": "large-1x",
            "max_duration": 60,
        },
        NOW,
    )
    assert opts == TriggerOptions(
        delay=NOW + 3600, ttl=600.0, idempotency_key="order-42", idempotency_key_ttl=86400.0,
        concurrency_key="user-17", queue="api-calls", priority=10,
        tags=("user:17", "asset:AAPL"), metadata={"progress": 0}, max_attempts=2,
        machine="large-1x", max_duration=60.0,
    )


def test_options_round_trip_through_json() -> None:
    opts = parse_options({"delay": "5m", "tags": ["a", "b"], "priority": 3, "ttl": 60}, NOW)
    assert parse_options(opts.to_json(), NOW + 999) == opts


def test_single_tag_string_becomes_a_tag() -> None:
    assert parse_options({"tags": "solo"}, NOW).tags == ("solo",)


def test_ten_tags_allowed() -> None:
    tags = [f"t{i}" for i in range(MAX_TAGS)]
    assert parse_options({"tags": tags}, NOW).tags == tuple(tags)


def test_default_idempotency_ttl_is_thirty_days() -> None:
    assert DEFAULT_IDEMPOTENCY_TTL == 30 * 86400


def test_absolute_delay() -> None:
    assert parse_options({"delay": {"at": NOW + 5}}, NOW).delay == NOW + 5


BAD_OPTIONS = [
    ("unknown-option", {"dealy": "5m"}, "dealy"),
    ("delay-soon", {"delay": "soon"}, "delay"),
    ("delay-negative", {"delay": "-5m"}, "delay"),
    ("delay-negative-number", {"delay": -5}, "delay"),
    ("delay-naive-datetime", {"delay": datetime(2026, 1, 1)}, "delay"),
    ("delay-bad-type", {"delay": [1]}, "delay"),
    ("delay-at-string", {"delay": {"at": "later"}}, "delay"),
    ("delay-at-bool", {"delay": {"at": True}}, "delay"),
    ("ttl-soon", {"ttl": "soon"}, "ttl"),
    ("ttl-negative", {"ttl": -1}, "ttl"),
    ("idem-ttl-bad", {"idempotency_key_ttl": "forever"}, "idempotency_key_ttl"),
    ("max-duration-negative", {"max_duration": "-1s"}, "max_duration"),
    ("too-many-tags", {"tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "tags"),
    ("empty-tag", {"tags": ["ok", ""]}, "tags"),
    ("non-string-tag", {"tags": ["ok", 5]}, "tags"),
    ("long-tag", {"tags": ["x" * 129]}, "tags"),
    ("tags-not-list", {"tags": {"a": 1}}, "tags"),
    ("unknown-machine", {"machine": "huge-9x"}, "machine"),
    ("machine-not-string", {"machine": 4}, "machine"),
    ("priority-bool", {"priority": True}, "priority"),
    ("priority-string", {"priority": "10"}, "priority"),
    ("priority-float", {"priority": 1.5}, "priority"),
    ("max-attempts-zero", {"max_attempts": 0}, "max_attempts"),
    ("max-attempts-bool", {"max_attempts": True}, "max_attempts"),
    ("max-attempts-string", {"max_attempts": "2"}, "max_attempts"),
    ("metadata-list", {"metadata": [1, 2]}, "metadata"),
    ("empty-idempotency-key", {"idempotency_key": "  "}, "idempotency_key"),
    ("idempotency-key-number", {"idempotency_key": 42}, "idempotency_key"),
    ("long-idempotency-key", {"idempotency_key": "k" * 513}, "idempotency_key"),
    ("queue-empty", {"queue": ""}, "queue"),
    ("concurrency-key-list", {"concurrency_key": ["a"]}, "concurrency_key"),
    # out of range: the same checks the HTTP API makes, for in-process triggers too
    ("delay-at-infinite", {"delay": {"at": math.inf}}, "delay"),
    ("delay-at-nan", {"delay": {"at": math.nan}}, "delay"),
    ("delay-at-1e300", {"delay": {"at": 1e300}}, "delay"),
    ("delay-at-before-1970", {"delay": {"at": -1}}, "delay"),
    ("delay-centuries", {"delay": "99999999999999w"}, "delay"),
    ("delay-timedelta-huge", {"delay": timedelta(days=999_999_999)}, "delay"),
    ("ttl-centuries", {"ttl": "99999999999999w"}, "ttl"),
    ("max-duration-1e300", {"max_duration": 1e300}, "max_duration"),
    ("priority-over-int4", {"priority": 2**31}, "priority"),
    ("priority-under-int4", {"priority": -(2**31) - 1}, "priority"),
    ("max-attempts-over-int4", {"max_attempts": 2**31}, "max_attempts"),
    ("tag-nul", {"tags": ["a\x00"]}, "tags"),
    ("tag-lone-surrogate", {"tags": ["\ud800"]}, "tags"),
    ("idempotency-key-nul", {"idempotency_key": "k\x00"}, "idempotency_key"),
    ("concurrency-key-surrogate", {"concurrency_key": "\udfff"}, "concurrency_key"),
    ("queue-nul", {"queue": "q\x00"}, "queue"),
    ("metadata-lone-surrogate", {"metadata": {"k": "\ud800"}}, "metadata"),
    ("debounce-key-nul", {"debounce": {"key": "k\x00", "delay": "1s"}}, "debounce.key"),
]


@pytest.mark.parametrize(("raw", "named"), [c[1:] for c in BAD_OPTIONS],
                         ids=[c[0] for c in BAD_OPTIONS])
def test_bad_options_raise_naming_the_option(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        parse_options(raw, NOW)


@pytest.mark.parametrize("call", [
    lambda: wait.sleep(seconds=math.inf),
    lambda: wait.sleep(days=1e300),
    lambda: wait.sleep(timedelta(days=999_999_999)),
    lambda: wait.until(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=5)))),
], ids=["sleep-inf", "sleep-1e300-days", "sleep-timedelta", "until-after-9999"])
def test_waits_out_of_range_are_refused_before_anything_runs(call: Any) -> None:
    with pytest.raises(ValidationError, match=r"wait\.(sleep|until)"):
        call()
