"""Which failures are the same failure: message normalization and fingerprints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outlast.core.fingerprints import (
    LENGTH,
    MAX_SAMPLE,
    error_parts,
    fingerprint,
    is_fingerprint,
    normalize,
    sample,
)


@pytest.mark.parametrize(("message", "normalized"), [
    ("order 42 not found", "order <n> not found"),
    ("took 1.25s (limit 1.0s)", "took <n>s (limit <n>s)"),
    ("user 'ada' has no \"email\"", "user <str> has no <str>"),
    ("key `a b` missing", "key <str> missing"),
    ("object 6f1c2d3e-0b1a-4c5d-8e9f-0a1b2c3d4e5f gone", "object <uuid> gone"),
    ("run run_01jf8zq3v6w2x9c4b7n5m8k3hd failed", "run <run> failed"),
    ("token tok_01jf8zq3v6w2x9c4b7n5m8k3hd expired", "token <id> expired"),
    ("segfault at 0x7ffd5e8a", "segfault at <hex>"),
    ("commit deadbeef42 is bad", "commit <hex> is bad"),
    ("no such table: accounts", "no such table: accounts"),
    ("  spread\n over\tlines  ", "spread over lines"),
    ("connect to 10.0.0.7:5432 refused", "connect to <n>:<n> refused"),
    ("", ""),
])
def test_what_changes_between_occurrences_is_replaced(message: str, normalized: str) -> None:
    assert normalize(message) == normalized


def test_words_that_only_look_like_hex_stay() -> None:
    assert normalize("deadbeef cafe facade") == "deadbeef cafe facade"


@pytest.mark.parametrize(("a", "b"), [
    (("charge", "ValueError", "card 4242 declined"), ("charge", "ValueError", "card 1 declined")),
    (("charge", "ValueError", "user 'ada'"), ("charge", "ValueError", 'user "bob"')),
    (("charge", "ValueError", "a  b"), ("charge", "ValueError", "a\nb")),
])
def test_the_same_failure_has_one_fingerprint(a: tuple[str, str, str],
                                              b: tuple[str, str, str]) -> None:
    assert fingerprint(*a) == fingerprint(*b)


@pytest.mark.parametrize(("a", "b"), [
    (("charge", "ValueError", "card declined"), ("refund", "ValueError", "card declined")),
    (("charge", "ValueError", "card declined"), ("charge", "KeyError", "card declined")),
    (("charge", "ValueError", "card declined"), ("charge", "ValueError", "card expired")),
    # the parts are kept apart: moving text from the type to the message is another group
    (("a", "b", "c d"), ("a", "b c", "d")),
])
def test_another_task_type_or_message_is_another_group(a: tuple[str, str, str],
                                                       b: tuple[str, str, str]) -> None:
    assert fingerprint(*a) != fingerprint(*b)


def test_the_fingerprint_is_stable_across_versions() -> None:
    # a stored fingerprint must keep matching new ones: this value may never change
    assert fingerprint("charge", "ValueError", "card 4242 declined") == "fc9809f28e63b54b"


@given(st.text())
def test_normalizing_twice_changes_nothing(message: str) -> None:
    once = normalize(message)
    assert normalize(once) == once


@given(st.text(), st.integers(min_value=0), st.integers(min_value=0))
def test_numbers_never_split_a_group(prefix: str, first: int, second: int) -> None:
    prefix = prefix.replace("'", "").replace('"', "").replace("`", "")
    assert (fingerprint("t", "E", f"{prefix} failed after {first} tries")
            == fingerprint("t", "E", f"{prefix} failed after {second} tries"))


@given(st.text(), st.text(), st.text())
def test_every_fingerprint_is_short_hex(task: str, kind: str, message: str) -> None:
    found = fingerprint(task, kind, message)
    assert len(found) == LENGTH and is_fingerprint(found)


def test_error_parts_and_sample_of_odd_errors() -> None:
    assert error_parts(None) == ("Error", "")
    assert error_parts({"type": "", "message": None}) == ("Error", "")
    assert error_parts({"type": "OSError", "message": 5}) == ("OSError", "5")
    assert sample("a\n b" + "x" * 2000).startswith("a b")
    assert len(sample("x" * 5000)) == MAX_SAMPLE
    assert not is_fingerprint("0123456789ABCDEF") and not is_fingerprint("abc")
