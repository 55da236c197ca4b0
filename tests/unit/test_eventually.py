"""The tests' one polling helper: returns what it waited for, fails with what it was."""

from __future__ import annotations

import itertools

import pytest

from tests.eventually import eventually


def test_eventually_returns_the_first_truthy_value() -> None:
    answers = iter([None, 0, "", {"id": 1}])
    assert eventually(lambda: next(answers), 5, interval=0) == {"id": 1}


def test_eventually_fails_naming_what_it_waited_for() -> None:
    calls = itertools.count()
    with pytest.raises(AssertionError, match="waiting for the moon"):
        eventually(lambda: next(calls) < 0, 0.05, "the moon", interval=0.01)
    assert next(calls) > 1  # asked more than once before giving up
