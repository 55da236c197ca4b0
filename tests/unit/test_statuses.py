"""The status table: final statuses are dead ends, every transition is well-formed."""

from __future__ import annotations

import pytest

from outlast.engine.statuses import ACTIVE, FINAL, TRANSITIONS, RunStatus, allowed, is_final

S = RunStatus


def test_the_contracts_statuses_and_final_set() -> None:
    assert [s.value for s in RunStatus] == [
        "DELAYED", "QUEUED", "EXECUTING", "WAITING", "PARKED", "COMPLETED", "FAILED", "CANCELED",
        "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT",
    ]
    assert {s.value for s in FINAL} == {
        "COMPLETED", "FAILED", "CANCELED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT",
    }
    assert set(RunStatus) == ACTIVE | FINAL
    assert not ACTIVE & FINAL


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_no_transition_leaves_a_final_status(name: str) -> None:
    sources, _ = TRANSITIONS[name]
    assert sources, name
    assert not sources & FINAL


@pytest.mark.parametrize("name", sorted(TRANSITIONS))
def test_transitions_are_well_formed(name: str) -> None:
    sources, target = TRANSITIONS[name]
    assert all(isinstance(s, RunStatus) for s in sources)
    assert target is None or isinstance(target, RunStatus)
    if target is not None:
        assert target not in sources or name == "reschedule"


@pytest.mark.parametrize("status", sorted(FINAL))
def test_final_statuses_allow_nothing(status: RunStatus) -> None:
    assert is_final(status.value)
    assert not [name for name in TRANSITIONS if allowed(name, status.value)]


@pytest.mark.parametrize("status", sorted(FINAL))
def test_every_final_status_is_reachable(status: RunStatus) -> None:
    assert any(target == status for _, target in TRANSITIONS.values())


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_every_active_status_can_be_left_and_canceled(status: RunStatus) -> None:
    assert not is_final(status.value)
    assert allowed("cancel", status.value)


TABLE = [
    ("start_attempt", "QUEUED", True), ("start_attempt", "DELAYED", False),
    ("start_attempt", "EXECUTING", False), ("complete", "EXECUTING", True),
    ("complete", "QUEUED", False), ("expire", "QUEUED", True), ("expire", "DELAYED", True),
    ("expire", "EXECUTING", False), ("cancel", "WAITING", True), ("cancel", "COMPLETED", False),
    ("reschedule", "DELAYED", True), ("reschedule", "QUEUED", True),
    ("reschedule", "EXECUTING", False), ("resume", "WAITING", True), ("resume", "QUEUED", False),
    ("enqueue_delayed", "DELAYED", True), ("enqueue_delayed", "QUEUED", False),
    ("park", "EXECUTING", True), ("park", "WAITING", False), ("unpark", "PARKED", True),
    ("unpark", "WAITING", False), ("cancel", "PARKED", True), ("resume", "PARKED", False),
    ("start_attempt", "PARKED", False), ("expire", "PARKED", False),
]


@pytest.mark.parametrize(("name", "current", "expected"), TABLE)
def test_allowed(name: str, current: str, expected: bool) -> None:
    assert allowed(name, current) is expected


def test_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError):
        is_final("RUNNING")
