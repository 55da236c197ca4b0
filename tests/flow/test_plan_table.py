"""flow.plan and its parts as tables: limits, keys, totals, rates, pause, order, aging,
started runs first."""

from __future__ import annotations

import pytest

from outlast.core.limits import Rate, parse_rate
from outlast.engine.flow import (
    AGING_SECONDS,
    Candidate,
    QueueState,
    aged_score,
    claim_rank,
    effective_priority,
    next_start_at,
    order,
    plan,
    rotation,
)
from outlast.errors import ValidationError


def cands(*queues: str) -> list[Candidate]:
    return [Candidate(f"r{i}", q, None, float(i)) for i, q in enumerate(queues)]


def keyed(*pairs: tuple[str, str | None]) -> list[Candidate]:
    return [Candidate(f"k{i}", q, key, float(i)) for i, (q, key) in enumerate(pairs)]


def qs(**states: QueueState) -> dict[str, QueueState]:
    return states


CASES = [
    # (id, candidates, controlled queues, capacity, env room, expected ids as a set)
    ("empty", [], {}, 5, None, set()),
    ("unlimited-all", cands("a", "a", "a"), {}, 5, None, {"r0", "r1", "r2"}),
    ("capacity-caps", cands("a", "a", "a"), {}, 2, None, {"r0", "r1"}),
    ("capacity-zero", cands("a"), {}, 0, None, set()),
    ("limit-caps", cands("a", "a", "a"), qs(a=QueueState("a", limit=2)), 5, None, {"r0", "r1"}),
    ("limit-counts-running", cands("a", "a", "a"),
     qs(a=QueueState("a", limit=2, running={None: 1})), 5, None, {"r0"}),
    ("limit-full", cands("a", "a"), qs(a=QueueState("a", limit=2, running={None: 2})), 5, None,
     set()),
    ("limit-overfull", cands("a"), qs(a=QueueState("a", limit=1, running={None: 3})), 5, None,
     set()),
    ("full-queue-skipped-others-taken", cands("a", "b", "a", "b"),
     qs(a=QueueState("a", limit=1, running={None: 1})), 5, None, {"r1", "r3"}),
    ("paused-starts-nothing", cands("a", "b"), qs(a=QueueState("a", paused=True)), 5, None,
     {"r1"}),
    ("per-key-limit", keyed(("a", "u1"), ("a", "u1"), ("a", "u2"), ("a", "u2"), ("a", "u1")),
     qs(a=QueueState("a", limit=2)), 10, None, {"k0", "k1", "k2", "k3"}),
    ("per-key-running", keyed(("a", "u1"), ("a", "u2"), ("a", None)),
     qs(a=QueueState("a", limit=1, running={"u1": 1})), 10, None, {"k1", "k2"}),
    ("keyless-full-keys-free", keyed(("a", None), ("a", "u1")),
     qs(a=QueueState("a", limit=1, running={None: 1})), 10, None, {"k1"}),
    ("total-caps-keys", keyed(("a", "u1"), ("a", "u2"), ("a", "u3")),
     qs(a=QueueState("a", limit=2, total=2)), 10, None, {"k0", "k1"}),
    ("total-counts-running", keyed(("a", "u1"), ("a", "u2")),
     qs(a=QueueState("a", limit=2, total=2, running={"u9": 1})), 10, None, {"k0"}),
    ("rate-budget", cands("a", "a", "a"), qs(a=QueueState("a", rate=Rate(2, 60), rate_used=1)),
     10, None, {"r0"}),
    ("rate-spent", cands("a"), qs(a=QueueState("a", rate=Rate(2, 60), rate_used=2)), 10, None,
     set()),
    ("key-rate", keyed(("a", "u1"), ("a", "u1"), ("a", "u2")),
     qs(a=QueueState("a", key_rate=Rate(1, 1), key_rate_used={"u2": 1})), 10, None, {"k0"}),
    ("key-rate-spares-keyless", keyed(("a", None), ("a", None)),
     qs(a=QueueState("a", key_rate=Rate(1, 1))), 10, None, {"k0", "k1"}),
    ("env-room", cands("a", "b", "c"), {}, 10, 2, {"r0", "r1"}),
    ("env-full", cands("a"), {}, 10, 0, set()),
]


@pytest.mark.parametrize(("candidates", "queues", "capacity", "env_room", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(candidates: list[Candidate], queues: dict[str, QueueState], capacity: int,
              env_room: int | None, expected: set[str]) -> None:
    assert set(plan(candidates, queues, capacity, env_room).ids) == expected


def test_plan_does_not_mutate_running() -> None:
    state = QueueState("a", limit=3, running={None: 1})
    plan(cands("a", "a"), {"a": state}, 5)
    assert state.running == {None: 1}


ROTATIONS = [
    (["a", "b", "c"], None, ["a", "b", "c"]),
    (["a", "b", "c"], "a", ["b", "c", "a"]),
    (["a", "b", "c"], "c", ["a", "b", "c"]),
    (["a", "c"], "b", ["c", "a"]),
    ([None, "a", "b"], "a", ["b", None, "a"]),
    ([None, "a"], None, [None, "a"]),
]


@pytest.mark.parametrize(("keys", "cursor", "expected"), ROTATIONS)
def test_rotation(keys: list[str | None], cursor: str | None, expected: list[str | None]) -> None:
    assert rotation(keys, cursor) == expected


def test_keys_take_turns_behind_a_backlog() -> None:
    backlog = [Candidate(f"a{i}", "q", "A", float(i)) for i in range(50)]
    late = [Candidate("b0", "q", "B", 1000.0)]
    ordered = [c.id for c in order(backlog + late, {"q": "A"})]
    assert ordered[0] == "b0"
    ordered = [c.id for c in order(backlog + late, {"q": None})]
    assert ordered[:3] == ["a0", "b0", "a1"]


def test_cursor_moves_past_served_key_and_past_full_keys() -> None:
    two = keyed(("q", "A"), ("q", "B"))
    state = QueueState("q", limit=1, total=1, cursor="A")
    decided = plan(two, {"q": state}, 5)
    assert decided.ids == ["k1"] and decided.cursors == {"q": "B"}
    full = QueueState("q", limit=1, running={"B": 1, "C": 1}, cursor="A")
    decided = plan(keyed(("q", "B"), ("q", "C")), {"q": full}, 5)
    assert decided.ids == [] and decided.cursors == {"q": "C"}


def test_queues_take_turns() -> None:
    many = [Candidate(f"a{i}", "a", None, float(i)) for i in range(5)]
    one = [Candidate("b0", "b", None, 100.0)]
    assert [c.id for c in order(many + one, {})][:3] == ["a0", "b0", "a1"]


AGING = [
    # (priority, waited seconds, effective priority)
    (0, 0, 0.0),
    (0, 60, 1.0),
    (10, 0, 10.0),
    (10, 30, 10.5),
    (-5, 600, 5.0),
    (3, -10, 3.0),  # not yet available: no credit
]


@pytest.mark.parametrize(("priority", "waited", "expected"), AGING)
def test_effective_priority(priority: int, waited: float, expected: float) -> None:
    assert effective_priority(priority, waited) == expected


SCORES = [
    # (a: priority, available_at), (b: ...), does a start before b
    ((10, 1000.0), (0, 1000.0), True),
    ((10, 1000.0), (0, 1000.0 - 9 * AGING_SECONDS), True),  # waited 9 min: still behind
    ((10, 1000.0), (0, 1000.0 - 11 * AGING_SECONDS), False),  # waited 11 min: overtakes
    ((0, 1000.0), (0, 1001.0), True),  # equal priority: oldest first
    ((-1, 1000.0), (0, 1000.0 + AGING_SECONDS + 1), True),
]


@pytest.mark.parametrize(("a", "b", "a_first"), SCORES)
def test_aged_order(a: tuple[int, float], b: tuple[int, float], a_first: bool) -> None:
    assert (aged_score(*a) < aged_score(*b)) is a_first


RATES = [
    ("100/m", Rate(100, 60.0)),
    ("10/s", Rate(10, 1.0)),
    ("1000/h", Rate(1000, 3600.0)),
    ("5/d", Rate(5, 86400.0)),
    ("20/30s", Rate(20, 30.0)),
    (" 3 / 2m ", Rate(3, 120.0)),
]


@pytest.mark.parametrize(("text", "rate"), RATES)
def test_parse_rate(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate
    assert parse_rate(str(rate)) == rate


@pytest.mark.parametrize("bad", ["", "100", "m/100", "0/m", "-1/m", "10/x", "10/0s", 5, None])
def test_parse_rate_rejects(bad: object) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        parse_rate(bad)


WINDOWS = [
    # (rate, start times, now, room now, next start)
    (Rate(2, 60), [], 100.0, 2, 100.0),
    (Rate(2, 60), [50.0], 100.0, 1, 100.0),
    (Rate(2, 60), [50.0, 90.0], 100.0, 0, 110.0),
    (Rate(2, 60), [30.0, 50.0, 90.0], 100.0, 0, 110.0),  # 30 left the window
    (Rate(1, 1), [99.5], 100.0, 0, 100.5),
    (Rate(3, 10), [91.0, 95.0, 99.0], 100.0, 0, 101.0),
]


@pytest.mark.parametrize(("rate", "starts", "now", "room", "next_at"), WINDOWS)
def test_sliding_window(rate: Rate, starts: list[float], now: float, room: int,
                        next_at: float) -> None:
    in_window = [t for t in starts if t > now - rate.window]
    state = QueueState("q", rate=rate, rate_used=len(in_window))
    assert len(plan(cands(*["q"] * 5), {"q": state}, 10).ids) == room
    assert next_start_at(rate, starts, now) == next_at


RANKS = [
    # (a: started, priority, available_at), (b: ...), does a start before b
    ((True, 0, 1000.0), (False, 0, 0.0), True),  # resumed: ahead of older fresh runs
    ((True, 0, 1000.0), (False, 100, 0.0), True),  # ... whatever their priority
    ((True, -5, 1000.0), (False, 0, 999.0), True),
    ((True, 0, 900.0), (True, 10, 1000.0), True),  # started runs: oldest due first
    ((True, 10, 1000.0), (True, 0, 900.0), False),
    ((False, 0, 0.0), (True, 0, 1000.0), False),
    ((False, 10, 1000.0), (False, 0, 1000.0 - 9 * AGING_SECONDS), True),  # fresh: aged
]


@pytest.mark.parametrize(("a", "b", "a_first"), RANKS)
def test_claim_rank(a: tuple[bool, int, float], b: tuple[bool, int, float],
                    a_first: bool) -> None:
    assert (claim_rank(*a) < claim_rank(*b)) is a_first


def resumed(id: str, queue: str, key: str | None, due: float) -> Candidate:
    return Candidate(id, queue, key, due, started=True)


STARTED_FIRST = [
    # (id, candidates, controlled queues, capacity, expected ids in order)
    ("resumed-before-older-fresh", cands("q", "q", "q") + [resumed("s", "q", None, 50.0)],
     {}, 2, ["s", "r0"]),
    ("started-oldest-due-first", [resumed("s2", "q", None, 9.0), resumed("s1", "q", None, 5.0)]
     + cands("q"), {}, 3, ["s1", "s2", "r0"]),
    ("limit-caps-started", [resumed("s1", "q", None, 5.0), resumed("s2", "q", None, 9.0)]
     + cands("q"), qs(q=QueueState("q", limit=1)), 3, ["s1"]),
    ("rate-caps-started", [resumed("s1", "q", None, 5.0)] + cands("q", "q"),
     qs(q=QueueState("q", rate=Rate(2, 60), rate_used=1)), 3, ["s1"]),
    ("key-turns-still-hold", keyed(("q", "A"), ("q", "B")) + [resumed("sA", "q", "A", 50.0)],
     qs(q=QueueState("q", limit=5, cursor="A")), 2, ["k1", "sA"]),
    ("per-key-limit-spares-other-keys", [resumed("sA", "q", "A", 50.0)]
     + keyed(("q", "A"), ("q", "B")), qs(q=QueueState("q", limit=1, cursor="B")), 5,
     ["sA", "k1"]),
    ("queues-take-turns-resumed-head-first", cands("a", "a") + [resumed("sb", "b", None, 50.0)],
     {}, 3, ["sb", "r0", "r1"]),
]


@pytest.mark.parametrize(("candidates", "queues", "capacity", "expected"),
                         [c[1:] for c in STARTED_FIRST], ids=[c[0] for c in STARTED_FIRST])
def test_started_runs_first(candidates: list[Candidate], queues: dict[str, QueueState],
                            capacity: int, expected: list[str]) -> None:
    assert plan(candidates, queues, capacity).ids == expected
