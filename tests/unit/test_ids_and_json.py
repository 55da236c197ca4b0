"""Time-sortable ids and the JSON size limit."""

from __future__ import annotations

import os
import re
import threading
from types import SimpleNamespace
from unittest import mock

import pytest

from outlast import ids
from outlast.errors import PayloadTooLargeError, ValidationError
from outlast.jsonutil import MAX_PAYLOAD_BYTES, dumps, loads


def test_id_shape() -> None:
    run_id = ids.new_id("run")
    assert re.fullmatch(r"run_[0-9a-hjkmnp-tv-z]{26}", run_id)


def test_ids_sort_by_creation_time() -> None:
    made = []
    for millis in [1_700_000_000_000, 1_700_000_000_001, 1_700_000_001_000, 1_800_000_000_000,
                   2_000_000_000_000]:
        with mock.patch.object(ids, "time", SimpleNamespace(time=lambda m=millis: m / 1000)):
            made.append(ids.new_id("run"))
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_ids_made_in_one_millisecond_are_distinct() -> None:
    with mock.patch.object(ids, "time", SimpleNamespace(time=lambda: 1_700_000_000.0)):
        made = {ids.new_id("run") for _ in range(1000)}
    assert len(made) == 1000
    assert len({m[:14] for m in made}) == 1  # same time prefix


def test_an_id_is_its_millisecond_then_its_random_digits_in_the_id_alphabet() -> None:
    """The encoding every stored id has: ids made by any version sort together. The
    random part is 16 digits, each from one random byte (its low five bits)."""
    drawn = bytes(range(240, 256))
    ids._TAILS.clear()  # drawn afresh, from the patched kernel
    with mock.patch.object(ids, "time", SimpleNamespace(time=lambda: 1_700_000_000.123)), \
            mock.patch.object(ids.os, "urandom", lambda n: drawn * (n // 16)):
        made = ids.new_id("run")
    ids._TAILS.clear()
    assert made == ("run_" + ids._encode(1_700_000_000_123, 10)
                    + "".join(ids._ALPHABET[b % 32] for b in drawn))


def test_every_byte_is_a_digit_and_every_digit_as_likely() -> None:
    """256 bytes, 8 to each of the 32 digits: a uniform byte gives a uniform digit."""
    digits = bytes(range(256)).translate(ids._DIGIT_OF_BYTE).decode()
    assert {d: digits.count(d) for d in ids._ALPHABET} == dict.fromkeys(ids._ALPHABET, 8)


def test_the_millisecond_digits_follow_the_clock() -> None:
    """Kept for the millisecond they were written in, and written again in the next."""
    for millis in (1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_124, 2**50 - 1):
        with mock.patch.object(ids, "time", SimpleNamespace(time=lambda m=millis: m / 1000)):
            assert ids.new_id("run")[4:14] == ids._encode(millis, 10)


def test_the_millisecond_digits_are_right_across_each_1024_ms() -> None:
    """Within 1,024 ms only the last digit pair is written again: every step, and
    every jump forward and back, gives the digits written out in full."""
    start = 1_796_497_911_000
    steps = [*range(start, start + 3000, 7), start + 1023, start + 1024, start - 1,
             start + 10 ** 9, start]
    for millis in steps:
        assert ids._millis_digits(millis) == ids._encode(millis, 10)


def test_ids_made_by_threads_at_once_are_distinct() -> None:
    """Random tails are drawn in bulk and handed out without a lock: each once."""
    made: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(ids.new_id("run") for _ in range(5000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in made for i in out]
    assert len(set(every)) == len(every) == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    """Tails drawn before a fork are the parent's: the child draws its own (a worker's
    children are forked, and their ids must not collide with the fork server's)."""
    ids.new_id("run")  # tails drawn here, before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(ids.new_id("run")[-16:] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {ids.new_id("run")[-16:] for _ in range(50)}
    assert len(child) == 50 and not child & parent


def test_secrets_are_url_safe_and_distinct() -> None:
    secrets = {ids.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(re.fullmatch(r"[0-9a-z]+", s) and len(s) == 39 for s in secrets)


def test_dumps_is_compact_and_round_trips() -> None:
    value = {"a": [1, 2.5, None, True], "é": "ü"}
    assert dumps(value) == '{"a":[1,2.5,null,true],"é":"ü"}'
    assert loads(dumps(value)) == value
    assert loads(None) is None


@pytest.mark.parametrize("value", [{1, 2}, object(), float("nan"), {"x": float("inf")}],
                         ids=["set", "object", "nan", "inf"])  # the same ids in every process
def test_dumps_rejects_what_json_cannot_hold(value: object) -> None:
    with pytest.raises(ValidationError, match="metadata"):
        dumps(value, "metadata")


LIMIT = 3 * 1024 * 1024


def test_the_default_limit_is_a_hundred_megabytes() -> None:
    assert MAX_PAYLOAD_BYTES == 100 * 1024 * 1024


def test_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLargeError, match="payload"):
        dumps("x" * LIMIT, limit=LIMIT)


def test_just_under_the_limit_is_fine() -> None:
    text = dumps("x" * (LIMIT - 2), limit=LIMIT)  # two quotes make it exactly the limit
    assert len(text.encode()) == LIMIT


def test_one_byte_over_is_too_large() -> None:
    with pytest.raises(PayloadTooLargeError):
        dumps("x" * (LIMIT - 1), limit=LIMIT)


def test_multibyte_text_over_the_limit_is_too_large() -> None:
    with pytest.raises(PayloadTooLargeError):
        dumps("é" * (2 * 1024 * 1024), limit=LIMIT)  # 2M characters, 4 MB of UTF-8


def test_no_limit_leaves_the_size_to_the_caller() -> None:
    assert len(dumps("x" * LIMIT, limit=None)) == LIMIT + 2


def test_payload_too_large_is_a_validation_error() -> None:
    assert issubclass(PayloadTooLargeError, ValidationError)
    assert PayloadTooLargeError.http_status == 413


def test_ids_made_one_after_another_in_a_millisecond_sort_as_they_were_made() -> None:
    """A batch's runs are made in the same few milliseconds: their ids, in the order made,
    go at the end of the indexes on ids. A millisecond begins with a fresh lot of tails
    when fewer are left than the one before took, so its ids never span two lots."""
    made = []
    for millis in range(1_700_000_000_000, 1_700_000_000_030):
        with mock.patch.object(ids, "time", SimpleNamespace(time=lambda m=millis: m / 1000)):
            made += [ids.new_id("run") for _ in range(300)]
    assert made == sorted(made) and len(set(made)) == len(made)
