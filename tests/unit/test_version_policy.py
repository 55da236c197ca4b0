"""The pure rules of versions: names people give, the code hash, and who takes which runs."""

from __future__ import annotations

import pytest

from outlast.core.versions import check_version, code_version, fresh_tasks
from outlast.engine.versions import promotes
from outlast.errors import ValidationError


@pytest.mark.parametrize("name", ["20261204.1", "v2", "a", "1.2.3+build-7", "x" * 100])
def test_good_version_names(name: str) -> None:
    assert check_version(name) == name


@pytest.mark.parametrize("name", ["", " v1", "v 1", "-v1", ".v1", "v1/2", "x" * 101, None, 3,
                                  "v1\x00", "vé"])
def test_bad_version_names_are_refused_with_a_clear_message(name: object) -> None:
    with pytest.raises(ValidationError, match="version"):
        check_version(name)


def test_the_code_hash_is_stable_and_ignores_order() -> None:
    files = [("tasks/a.py", b"A"), ("tasks/b.py", b"B")]
    assert code_version(files) == code_version(list(reversed(files)))
    assert len(code_version(files)) == 12


@pytest.mark.parametrize("changed", [
    [("tasks/a.py", b"A2"), ("tasks/b.py", b"B")],   # an edit
    [("tasks/c.py", b"A"), ("tasks/b.py", b"B")],    # a move
    [("tasks/a.py", b"A")],                           # a file gone
    [("tasks/a.py", b"AB"), ("tasks/b.py", b"")],    # bytes moved across files
])
def test_any_change_of_the_code_is_a_new_version(changed: list[tuple[str, bytes]]) -> None:
    assert code_version(changed) != code_version([("tasks/a.py", b"A"), ("tasks/b.py", b"B")])


@pytest.mark.parametrize(("own", "current", "current_tasks", "expected"), [
    ("v1", None, [], {"a", "b"}),            # no current version: own tasks
    ("v1", "v1", ["a", "b"], {"a", "b"}),    # the current version: own tasks
    ("v1", "v2", ["a", "b"], set()),         # draining: nothing unpinned
    ("v1", "v2", ["a"], {"b"}),              # what the current version lacks
    ("v1", "v2", ["c"], {"a", "b"}),         # another service's version is current
])
def test_fresh_tasks(own: str, current: str | None, current_tasks: list[str],
                     expected: set[str]) -> None:
    assert fresh_tasks(own, ["a", "b"], current, current_tasks) == expected


@pytest.mark.parametrize(("source", "managed", "expected"), [
    ("worker", False, True), ("worker", True, False),
    ("deploy", False, True), ("deploy", True, True),
    ("dev", False, True), ("dev", True, True),
])
def test_who_makes_a_version_current(source: str, managed: bool, expected: bool) -> None:
    assert promotes(source, managed) is expected


def test_a_worker_promotes_only_a_version_never_seen() -> None:
    assert promotes("worker", False, new=False) is False
    assert promotes("dev", False, new=False) is True
    assert promotes("deploy", True, new=False) is True
