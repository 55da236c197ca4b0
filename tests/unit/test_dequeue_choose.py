"""dequeue.choose: which candidates may start, within queue limits and the worker's capacity."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine.dequeue import Candidate, choose


def cands(*queues: str) -> list[Candidate]:
    return [Candidate(f"r{i}", q, None) for i, q in enumerate(queues)]


def keyed(*pairs: tuple[str, str | None]) -> list[Candidate]:
    return [Candidate(f"k{i}", q, key) for i, (q, key) in enumerate(pairs)]


CASES = [
    # (id, candidates, limits, running, capacity, expected ids)
    ("empty", [], {}, {}, 5, []),
    ("unlimited-all", cands("a", "a", "a"), {}, {}, 5, ["r0", "r1", "r2"]),
    ("capacity-caps", cands("a", "a", "a"), {}, {}, 2, ["r0", "r1"]),
    ("capacity-zero", cands("a"), {}, {}, 0, []),
    ("limit-caps", cands("a", "a", "a"), {"a": 2}, {}, 5, ["r0", "r1"]),
    ("limit-counts-running", cands("a", "a", "a"), {"a": 2}, {"a": 1}, 5, ["r0"]),
    ("limit-full", cands("a", "a"), {"a": 2}, {"a": 2}, 5, []),
    ("limit-overfull", cands("a"), {"a": 1}, {"a": 3}, 5, []),
    ("full-queue-skipped-others-taken", cands("a", "b", "a", "b"), {"a": 1}, {"a": 1}, 5,
     ["r1", "r3"]),
    ("mixed-limits", cands("a", "a", "b", "b", "c"), {"a": 1, "b": 2}, {"b": 1}, 5,
     ["r0", "r2", "r4"]),
    ("running-elsewhere-ignored", cands("a", "a"), {"a": 2}, {"z": 9}, 5, ["r0", "r1"]),
    ("order-kept", cands("b", "a", "c"), {}, {}, 3, ["r0", "r1", "r2"]),
    ("capacity-before-limit", cands("a", "b", "b"), {"b": 5}, {}, 2, ["r0", "r1"]),
    # with a concurrency key the limit holds per (queue, key); keyless runs share the queue
    ("per-key-limit", keyed(("a", "u1"), ("a", "u1"), ("a", "u2"), ("a", "u2"), ("a", "u1")),
     {"a": 2}, {}, 10, ["k0", "k1", "k2", "k3"]),
    ("per-key-running", keyed(("a", "u1"), ("a", "u2"), ("a", None)), {"a": 1},
     {("a", "u1"): 1}, 10, ["k1", "k2"]),
    ("keyless-full-keys-free", keyed(("a", None), ("a", "u1")), {"a": 1}, {"a": 1}, 10,
     ["k1"]),
    ("keys-unlimited-queue", keyed(("b", "u1"), ("b", "u1")), {"a": 1}, {}, 10, ["k0", "k1"]),
]


@pytest.mark.parametrize(("candidates", "limits", "running", "capacity", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_choose(
    candidates: list[Candidate],
    limits: dict[str, int],
    running: dict[Any, int],
    capacity: int,
    expected: list[str],
) -> None:
    assert choose(candidates, limits, running, capacity) == expected


def test_choose_does_not_mutate_running() -> None:
    running = {"a": 1}
    choose(cands("a", "a"), {"a": 3}, running, 5)
    assert running == {"a": 1}
