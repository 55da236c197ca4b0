"""``worker.pool.Deadlines``: a child's shared runs' deadlines, the earliest read each turn."""

from __future__ import annotations

from outlast.worker.pool import Deadlines


def test_the_earliest_live_deadline_comes_first_whatever_the_order_they_came_in() -> None:
    due = Deadlines()
    for key, at in [("c", 30.0), ("a", 10.0), ("b", 20.0)]:
        due.set(key, at)
    assert due.earliest() == 10.0
    due.drop("a")
    assert due.earliest() == 20.0
    assert due.earliest(skip={"b"}) == 30.0
    assert due.earliest() == 30.0  # a key once skipped stays skipped (a stopped run)
    due.drop("c")
    assert due.earliest() is None and len(due) == 1


def test_overdue_names_each_key_past_its_deadline_once() -> None:
    due = Deadlines()
    for key, at in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 9.0)]:
        due.set(key, at)
    due.drop("b")
    assert due.overdue(2.5) == ["a"]
    assert due.overdue(2.5) == []
    assert due.overdue(5.0, skip={"c"}) == []
    assert due.overdue(10.0) == ["d"]


def test_a_key_set_again_counts_its_new_deadline() -> None:
    due = Deadlines()
    due.set("a", 5.0)
    due.set("a", 50.0)
    due.set("a", 50.0)
    assert due.earliest() == 50.0
    assert due.overdue(60.0) == ["a"]


def test_entries_of_dropped_keys_do_not_pile_up() -> None:
    """Runs that end before their deadline leave an entry behind; the heap is rebuilt
    from the live ones before those outnumber them."""
    due = Deadlines()
    due.set("long", 10_000.0)
    for n in range(10_000):
        due.set(f"run{n}", 3600.0 + n)
        due.drop(f"run{n}")
    assert len(due._order) <= 2 * len(due) + 65
    assert due.earliest() == 10_000.0


def test_a_child_is_next_due_at_the_earliest_of_its_run_s_and_its_shared_runs_deadlines(
) -> None:
    """``Child.next_due`` over every mix of what a child can be waiting for: its sync
    run's deadline, its shared runs' deadlines, and the kill times of runs told to stop."""
    import itertools
    from typing import Any, cast

    from outlast.worker.pool import Child

    def reference(child: Any) -> float | None:  # what it was before its shortcuts
        due = [at for _, at in child.stopping.values()]
        shared = child.shared_due.earliest(child.stopping)
        if shared is not None:
            due.append(shared)
        if child.deadline is not None:
            due.append(child.deadline)
        return min(due, default=None)

    cases = itertools.product((None, 5.0, 50.0), ({}, {"a": 7.0}, {"a": 7.0, "b": 60.0}),
                              ({}, {"b": 3.0}, {"a": 90.0}))
    for deadline, deadlines, stopping in cases:
        made = []
        for _ in range(2):
            child = cast(Any, Child.__new__(Child))
            child.deadline = deadline
            child.shared = dict.fromkeys(deadlines, object())
            child.shared_due = Deadlines()
            for key, at in deadlines.items():
                child.shared_due.set(key, at)
            child.stopping = {k: ("cancel", at) for k, at in stopping.items()}
            made.append(child)
        assert made[0].next_due() == reference(made[1]), (deadline, deadlines, stopping)
