"""``engine.numbers`` and ``engine.metadata_history``: pure, table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine.metadata import apply_ops
from outlast.engine.metadata_history import MAX_CHANGES, changes, preview
from outlast.engine.numbers import run_numbers
from outlast.machines import price

ROW = {"status": "COMPLETED", "attempt_count": 1, "max_attempts": 3, "execution_seconds": 5.0,
       "cost": price("small-1x", 5), "machine": "small-1x", "created_at": 100.0,
       "available_at": 100.0, "started_at": 102.0, "finished_at": 110.0}


def row(**changed: Any) -> dict[str, Any]:
    return {**ROW, **changed}


@pytest.mark.parametrize(("status", "attempt_count", "attempts", "expected"), [
    ("COMPLETED", 1, None, 1),
    ("WAITING", 0, None, 1),  # the suspended attempt gave its number back, yet it counts
    ("PARKED", 0, None, 1),
    ("QUEUED", 0, [{"number": 1, "status": "SUSPENDED", "started_at": 102.0}], 1),
    ("QUEUED", 1, [{"number": 1, "status": "FAILED", "started_at": 102.0},
                   {"number": 2, "status": "RELEASED", "started_at": 108.0}], 1),
])
def test_attempts_count_a_suspended_attempt_but_not_a_handed_back_one(
        status: str, attempt_count: int, attempts: list[dict[str, Any]] | None,
        expected: int) -> None:
    numbers = run_numbers(row(status=status, attempt_count=attempt_count, finished_at=None),
                          attempts)
    assert numbers.attempts == expected


def test_a_running_attempt_counts_from_its_own_start() -> None:
    running = row(status="EXECUTING", finished_at=None)
    attempts = [{"number": 1, "status": "EXECUTING", "started_at": 130.0}]
    numbers = run_numbers(running, attempts, now=134.0)
    assert (numbers.execution, numbers.live) == (9.0, True)
    assert numbers.cost == pytest.approx(price("small-1x", 5) + price("small-1x", 4))
    assert run_numbers(running).execution == 5.0  # without a time: as of its last write


def test_waiting_comes_from_the_statuses_its_events_record() -> None:
    events = [{"at": 100.0, "status": "QUEUED"}, {"at": 102.0, "status": "EXECUTING"},
              {"at": 104.0, "status": "WAITING"}, {"at": 105.0, "status": "WAITING"},
              {"at": 107.0, "status": "QUEUED"}, {"at": 107.0, "status": "EXECUTING"},
              {"at": 110.0, "status": "COMPLETED"}]
    numbers = run_numbers(row(), None, events)
    assert (numbers.total, numbers.execution, numbers.waiting, numbers.queued) == \
        (10.0, 5.0, 3.0, 2.0)
    assert run_numbers(row()).waiting is None  # events not read: not known


def test_never_started() -> None:
    numbers = run_numbers(row(status="EXPIRED", attempt_count=0, started_at=None,
                              execution_seconds=0.0, cost=0.0), None, [])
    assert (numbers.execution, numbers.cost, numbers.queued) == (None, 0.0, 10.0)


def test_changes_preview_each_operation_in_order() -> None:
    ops = [{"op": "increment", "key": "n", "value": 2}, {"op": "set", "key": "n", "value": 9},
           {"op": "delete", "key": "gone"}, {"op": "append", "key": "log", "value": "x"}]
    assert changes({"n": 1, "gone": True}, ops, apply_ops) == [
        {"op": "increment", "key": "n", "old": "1", "new": "3", "arg": "2"},
        {"op": "set", "key": "n", "old": "3", "new": "9"},
        {"op": "delete", "key": "gone", "old": "true", "new": None},
        {"op": "append", "key": "log", "old": None, "new": '["x"]', "arg": '"x"'},
    ]


def test_changes_stay_small() -> None:
    assert len(preview("x" * 10_000)) == 80
    many = [{"op": "set", "key": f"k{i}", "value": i} for i in range(MAX_CHANGES + 5)]
    listed = changes({}, many, apply_ops)
    assert len(listed) == MAX_CHANGES + 1 and listed[-1]["arg"] == "5"
