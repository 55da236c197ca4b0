"""Debounced triggers on both stores, and the errors for bad debounce options."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.core.debounce import Debounce, parse_debounce
from outlast.core.options import parse_options
from outlast.engine import Engine
from outlast.engine.debounce import leading_window_open, postponed_start
from outlast.errors import ValidationError


def trailing(**extra: Any) -> dict[str, Any]:
    return {"key": "u1", "delay": "5s", **extra}


def test_trailing_collapses_with_last_payload_and_postponed_start(
    engine: Engine, register: Any, trigger: Any, clock: Any
) -> None:
    register(engine, "job")
    first = trigger(engine, "job", {"n": 1}, debounce=trailing())
    assert first.created and first.row["status"] == "DELAYED"
    clock.advance(3)
    second = trigger(engine, "job", {"n": 2}, debounce=trailing())
    assert not second.created and second.row["id"] == first.row["id"]
    run = engine.retrieve("dev", first.row["id"])
    assert run["payload"] == {"n": 2}
    clock.advance(4)  # 7 s after the first, 4 s after the last: not due yet
    engine.sweep()
    assert engine.retrieve("dev", first.row["id"])["status"] == "DELAYED"
    clock.advance(2)
    engine.sweep()
    assert engine.retrieve("dev", first.row["id"])["status"] == "QUEUED"
    third = trigger(engine, "job", {"n": 3}, debounce=trailing())
    assert third.created and third.row["id"] != first.row["id"]


def test_trailing_never_postpones_beyond_max_delay(
    engine: Engine, register: Any, trigger: Any, clock: Any
) -> None:
    register(engine, "job")
    spec = trailing(max_delay="8s")
    first = trigger(engine, "job", 0, debounce=spec)
    ids = []
    for n in range(1, 4):  # at 3 s, 6 s, 9 s after the first
        clock.advance(3)
        ids.append(trigger(engine, "job", n, debounce=spec).row["id"])
    assert ids[:2] == [first.row["id"]] * 2 and ids[2] != first.row["id"]
    row = engine.retrieve("dev", first.row["id"])
    assert row["payload"] == 2  # the last trigger inside max_delay won
    assert row["available_at"] == pytest.approx(engine.clock.now() - 9 + 8)


def test_leading_runs_first_and_returns_it_within_the_window(
    engine: Engine, register: Any, trigger: Any, clock: Any
) -> None:
    register(engine, "job")
    spec = trailing(mode="leading")
    first = trigger(engine, "job", {"n": 1}, debounce=spec)
    assert first.created and first.row["status"] == "QUEUED"
    clock.advance(4)
    again = trigger(engine, "job", {"n": 2}, debounce=spec)
    assert not again.created and again.row["id"] == first.row["id"]
    assert engine.retrieve("dev", first.row["id"])["payload"] == {"n": 1}
    clock.advance(6)  # quiet for longer than the delay: a new window
    later = trigger(engine, "job", {"n": 3}, debounce=spec)
    assert later.created


def test_keys_are_separate_and_per_task(engine: Engine, register: Any, trigger: Any) -> None:
    register(engine, "job", "other")
    a = trigger(engine, "job", 1, debounce=trailing())
    b = trigger(engine, "job", 1, debounce={"key": "u2", "delay": "5s"})
    c = trigger(engine, "other", 1, debounce=trailing())
    assert len({a.row["id"], b.row["id"], c.row["id"]}) == 3


def test_batch_items_with_one_key_collapse(engine: Engine, register: Any) -> None:
    from outlast.engine import NewRun

    register(engine, "job")
    opts = parse_options({"debounce": trailing()}, engine.clock.now())
    out = engine.trigger_batch("dev", [NewRun("job", json.dumps(i), opts) for i in range(3)])
    assert [t.created for t in out] == [True, False, False]
    assert engine.retrieve("dev", out[0].row["id"])["payload"] == 2


BAD = [
    ("x", "expected an object"),
    ({"delay": "5s"}, "debounce.key"),
    ({"key": "", "delay": "5s"}, "debounce.key"),
    ({"key": "k"}, "debounce.delay is required"),
    ({"key": "k", "delay": "soon"}, "debounce.delay"),
    ({"key": "k", "delay": "5s", "mode": "middle"}, "debounce.mode"),
    ({"key": "k", "delay": "5s", "max_delay": "1s"}, "must be at least"),
    ({"key": "k", "delay": "5s", "extra": 1}, "unknown field"),
    ({"key": "k", "delay": 0}, "positive"),
]


@pytest.mark.parametrize(("value", "message"), BAD)
def test_bad_debounce(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_debounce(value)


def test_debounce_with_idempotency_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="cannot be combined"):
        parse_options({"debounce": trailing(), "idempotency_key": "x"}, 0.0)


def test_options_round_trip() -> None:
    opts = parse_options({"debounce": trailing(mode="leading")}, 0.0)
    assert parse_options(opts.to_json(), 0.0) == opts


WINDOWS = [
    # (delay, max_delay, first_at, now) → trailing start
    (5.0, 60.0, 0.0, 0.0, 5.0),
    (5.0, 60.0, 0.0, 10.0, 15.0),
    (5.0, 12.0, 0.0, 10.0, 12.0),
    (5.0, 5.0, 0.0, 4.0, 5.0),
]


@pytest.mark.parametrize(("delay", "max_delay", "first", "now", "start"), WINDOWS)
def test_postponed_start(delay: float, max_delay: float, first: float, now: float,
                         start: float) -> None:
    assert postponed_start(Debounce("k", delay, "trailing", max_delay), first, now) == start


LEADING = [
    # (delay, max_delay, first_at, last_at, now) → joins
    (5.0, 60.0, 0.0, 0.0, 4.9, True),
    (5.0, 60.0, 0.0, 0.0, 5.0, False),
    (5.0, 60.0, 0.0, 58.0, 59.0, True),
    (5.0, 60.0, 0.0, 58.0, 61.0, False),  # beyond max_delay
]


@pytest.mark.parametrize(("delay", "max_delay", "first", "last", "now", "joins"), LEADING)
def test_leading_window(delay: float, max_delay: float, first: float, last: float, now: float,
                        joins: bool) -> None:
    spec = Debounce("k", delay, "leading", max_delay)
    assert leading_window_open(spec, first, last, now) is joins
