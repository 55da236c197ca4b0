"""The claim with flow control on both stores: limits, keys, totals, rates, pause, aging."""

from __future__ import annotations

import json
from typing import Any

from outlast.core.options import parse_options
from outlast.core.settings import ENV_LIMIT_VAR, read_settings
from outlast.engine import Engine, NewRun, Outcome
from tests.conftest import definition


def setup(engine: Engine, register: Any, **limits: Any) -> None:
    register(engine, definition("job", queue="q", **limits))


def many(engine: Engine, n: int, **options: Any) -> list[str]:
    opts = parse_options(options, engine.clock.now())
    ids: list[str] = []
    for start in range(0, n, 1000):
        reqs = [NewRun("job", json.dumps(i), opts) for i in range(start, min(n, start + 1000))]
        ids += [t.row["id"] for t in engine.trigger_batch("dev", reqs)]
    return ids


def complete(engine: Engine, rows: list[dict[str, Any]]) -> None:
    engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed", output=None)
                   for r in rows])


def claim(engine: Engine, capacity: int = 10) -> list[dict[str, Any]]:
    return engine.claim("dev", "w1", None, capacity)


def test_limit_holds_per_key_and_keyless_share_the_queue(engine: Engine, register: Any) -> None:
    setup(engine, register, concurrency_limit=2)
    many(engine, 5, concurrency_key="a")
    many(engine, 5, concurrency_key="b")
    many(engine, 5)
    rows = claim(engine, 20)
    keys = sorted(str(r["concurrency_key"]) for r in rows)
    assert keys == ["None", "None", "a", "a", "b", "b"]
    assert claim(engine, 20) == []


def test_total_limit_caps_all_keys(engine: Engine, register: Any) -> None:
    setup(engine, register, concurrency_limit=2, total_limit=3)
    for key in "abc":
        many(engine, 3, concurrency_key=key)
    assert len(claim(engine, 20)) == 3
    assert claim(engine, 20) == []


def test_small_key_starts_at_once_behind_a_large_backlog(engine: Engine, register: Any) -> None:
    """5,000 runs of A then 10 of B, limit 2 per key and total 2: B's first run starts at
    the first free slot after it is queued (the bound for K keys is K - 1 = 1 other start)."""
    setup(engine, register, concurrency_limit=2, total_limit=2)
    many(engine, 5000, concurrency_key="A")
    first = claim(engine, 5)
    assert [r["concurrency_key"] for r in first] == ["A", "A"]
    many(engine, 10, concurrency_key="B")
    complete(engine, first[:1])
    second = claim(engine, 5)
    assert [r["concurrency_key"] for r in second] == ["B"]
    complete(engine, first[1:])
    assert [r["concurrency_key"] for r in claim(engine, 5)] == ["A"]  # turns alternate
    complete(engine, second)
    assert [r["concurrency_key"] for r in claim(engine, 5)] == ["B"]


def test_many_keys_are_all_reached(engine: Engine, register: Any) -> None:
    setup(engine, register, concurrency_limit=1)
    many(engine, 3, concurrency_key="big")
    for i in range(30):
        many(engine, 1, concurrency_key=f"k{i:02d}")
    seen: set[str] = set()
    for _ in range(10):
        rows = claim(engine, 4)
        seen.update(r["concurrency_key"] for r in rows)
        complete(engine, rows)
    assert len(seen) == 31


def test_rate_limit_keeps_runs_queued_until_the_window_allows(
    engine: Engine, register: Any, clock: Any
) -> None:
    setup(engine, register, rate_limit="2/m")
    many(engine, 5)
    assert len(claim(engine)) == 2
    assert claim(engine) == []
    clock.advance(30)
    assert claim(engine) == []
    clock.advance(31)
    rows = claim(engine)
    assert len(rows) == 2
    assert all(r["attempt_count"] == 1 for r in rows)
    queued = engine.list_runs("dev", status=["QUEUED"])[0]
    assert len(queued) == 1 and queued[0]["attempts"] == 0


def test_key_rate_limit(engine: Engine, register: Any, clock: Any) -> None:
    setup(engine, register, key_rate_limit="1/s")
    many(engine, 3, concurrency_key="a")
    many(engine, 3, concurrency_key="b")
    assert sorted(r["concurrency_key"] for r in claim(engine)) == ["a", "b"]
    assert claim(engine) == []
    clock.advance(1.5)
    assert sorted(r["concurrency_key"] for r in claim(engine)) == ["a", "b"]


def test_pause_starts_nothing_resume_starts_again_and_ttl_still_expires(
    engine: Engine, register: Any, clock: Any
) -> None:
    setup(engine, register)
    engine.queues.pause("dev", "q")
    many(engine, 2)
    many(engine, 1, ttl="10s")
    assert claim(engine) == []
    clock.advance(11)
    assert engine.sweep().expired == 1
    engine.queues.resume("dev", "q")
    assert len(claim(engine)) == 2


def test_override_survives_code_sync_and_reset_returns_to_code(
    engine: Engine, register: Any
) -> None:
    setup(engine, register, concurrency_limit=1)
    engine.queues.update("dev", "q", {"concurrency_limit": 3})
    setup(engine, register, concurrency_limit=1)  # a worker restarts with the same code
    record = engine.queues.retrieve("dev", "q")
    assert record["concurrency_limit"] == 3
    assert record["code"]["concurrency_limit"] == 1
    assert record["overrides"] == {"concurrency_limit": 3}
    many(engine, 5)
    assert len(claim(engine)) == 3
    engine.queues.update("dev", "q", {}, reset=["concurrency_limit"])
    assert engine.queues.retrieve("dev", "q")["concurrency_limit"] == 1


def test_environment_limit(engine: Engine, register: Any, monkeypatch: Any) -> None:
    register(engine, definition("job", queue="q"), definition("other", queue="o"))
    many(engine, 5)
    engine.trigger("dev", NewRun("other", "1", parse_options({}, engine.clock.now())))
    engine.queues.set_environment_limit("dev", 2)
    assert len(claim(engine)) == 2
    assert claim(engine) == []
    engine.queues.set_environment_limit("dev", None)
    monkeypatch.setattr(engine, "settings", read_settings({ENV_LIMIT_VAR: "3"}))
    assert len(claim(engine)) == 1
    assert engine.queues.environment_limit("dev")["concurrency_limit"] == 3


def test_priority_first_with_aging(engine: Engine, register: Any, clock: Any) -> None:
    setup(engine, register, concurrency_limit=1)
    old = many(engine, 1)[0]
    clock.advance(5 * 60)
    high = many(engine, 1, priority=3)[0]
    low = many(engine, 1)[0]
    urgent = many(engine, 1, priority=10)[0]
    order = []
    for _ in range(4):
        rows = claim(engine)
        order += [r["id"] for r in rows]
        complete(engine, rows)
    # urgent (10) beats old (0 + 5 min waited), which beats high (3), then low
    assert order == [urgent, old, high, low]
