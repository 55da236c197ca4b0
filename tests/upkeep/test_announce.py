"""Which due moments are announced to the upkeep holder (a pure rule, table-driven)."""

from __future__ import annotations

from typing import Any

import pytest

from outlast.engine import announce

NOW = 1000.0


class Notes:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def notify(self, channel: str, payload: str = "") -> None:
        self.sent.append((channel, payload))


@pytest.mark.parametrize(("due_at", "sent"), [
    (None, False),
    (NOW - 5, True),  # already due
    (NOW + 0.3, True),
    (NOW + announce.ANNOUNCE_WITHIN - 0.01, True),
    (NOW + announce.ANNOUNCE_WITHIN, False),  # the holder's next re-read finds it in time
    (NOW + 3600, False),
])
def test_only_moments_sooner_than_a_re_read_are_announced(due_at: float | None,
                                                          sent: bool) -> None:
    notes = Notes()
    announce.due(notes, due_at, NOW)  # type: ignore[arg-type]
    assert notes.sent == ([(announce.DUE_CHANNEL, repr(due_at))] if sent else [])
    if sent:
        assert announce.parse(notes.sent[0][1]) == due_at


@pytest.mark.parametrize(("rows", "expected"), [
    ([], None),
    ([{"status": "QUEUED", "available_at": NOW, "expires_at": None}], None),
    ([{"status": "DELAYED", "available_at": NOW + 5, "expires_at": None}], NOW + 5),
    ([{"status": "QUEUED", "available_at": NOW, "expires_at": NOW + 60},
      {"status": "DELAYED", "available_at": NOW + 90, "expires_at": NOW + 120}], NOW + 60),
])
def test_the_earliest_moment_of_new_runs(rows: list[dict[str, Any]],
                                         expected: float | None) -> None:
    assert announce.earliest_run_moment(rows) == expected


def test_a_payload_that_is_not_a_moment_is_ignored() -> None:
    assert announce.parse("run_123") is None
