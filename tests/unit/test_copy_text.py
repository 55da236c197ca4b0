"""PostgreSQL's ``load``: rows written in ``COPY``'s text format (``CopyIn.text``), each
row's own columns every time and the others' text once for the rows that repeat them."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest

from outlast.store.postgres.store import COPY_CHUNK, FIRST_COPY_CHUNK, copy_in, copy_value

COPY = copy_in("COPY runs (id, payload, queue, at, n) FROM STDIN")


def _row(run_id: str, payload: str = "null", **rest: Any) -> dict[str, Any]:
    return {"id": run_id, "payload": payload, "queue": "q", "at": 1.5, "n": 3} | rest


class Colour(enum.StrEnum):
    RED = "r\ted"


class Size(enum.IntEnum):
    BIG = 7


@pytest.mark.parametrize(("value", "text"), [
    (None, "\\N"), ("", ""), ("plain", "plain"), ("\\N", "\\\\N"),
    ("a\tb\nc\rd\\e", "a\\tb\\nc\\rd\\\\e"), ("snow ☃ \x0b", "snow ☃ \x0b"),
    (0, "0"), (-5, "-5"), (2**70, str(2**70)), (True, "t"), (False, "f"),
    (1.0 / 3, repr(1.0 / 3)), (1e300, "1e+300"), (math.inf, "Infinity"),
    (-math.inf, "-Infinity"), (math.nan, "NaN"), (Colour.RED, "r\\ted"), (Size.BIG, "7"),
])
def test_a_value_as_a_field(value: Any, text: str) -> None:
    assert copy_value(value) == text


def test_a_value_copy_cannot_write_is_refused() -> None:
    with pytest.raises(TypeError, match="dict"):
        copy_value({"a": 1})


def test_rows_are_lines_of_their_columns_in_the_statements_order() -> None:
    rows = [_row("run_a"), _row("run_b", '{"k":"x\\ty"}', queue="other\nq", n=None),
            _row("run_c", at=2.25)]
    assert "".join(COPY.text(rows)) == (
        "run_a\tnull\tq\t1.5\t3\n"
        'run_b\t{"k":"x\\\\ty"}\tother\\nq\t1.5\t\\N\n'
        "run_c\tnull\tq\t2.25\t3\n")


def test_alike_rows_are_written_with_the_first_ones_other_values() -> None:
    """Rows said to be alike (a batch's runs, made from one set of values) are each their
    own columns and the first's others: what writing them one by one gives."""
    rows = [_row(f"run_{n}", f'{{"n":{n},"t":"a\tb"}}', queue="q\tz") for n in range(5)]
    assert "".join(COPY.text(rows, alike=True)) == "".join(COPY.text(rows))
    assert "".join(COPY.text([rows[0], _row("run_x", queue="other")], alike=True)).endswith(
        "run_x\tnull\tq\\tz\t1.5\t3\n")  # not read: alike


def test_equal_values_in_new_objects_are_written_again_alike() -> None:
    """The rest of a row is reused by value, not by the object it is."""
    first, second = _row("run_a", queue="".join(["q", "1"])), _row("run_b", queue="q1")
    third = _row("run_c", queue="q2")
    assert "".join(COPY.text([first, second, third, first])) == (
        "run_a\tnull\tq1\t1.5\t3\nrun_b\tnull\tq1\t1.5\t3\n"
        "run_c\tnull\tq2\t1.5\t3\nrun_a\tnull\tq1\t1.5\t3\n")


def test_rows_are_handed_over_in_chunks_as_they_are_made() -> None:
    made: list[int] = []

    def rows() -> Any:
        for n in range(3 * COPY_CHUNK // 20):
            made.append(n)
            yield _row(f"run_{n:05}")

    chunks = COPY.text(rows())
    first = next(chunks)
    assert FIRST_COPY_CHUNK <= len(first) < FIRST_COPY_CHUNK + 40  # a smaller one first
    assert len(made) < 3 * COPY_CHUNK // 20  # not all made before the first chunk
    second = next(chunks)
    assert COPY_CHUNK <= len(second) < COPY_CHUNK + 40
    rest = [second, *chunks]
    assert "".join([first, *rest]).count("\n") == len(made) == 3 * COPY_CHUNK // 20


def test_a_copy_of_too_few_columns_or_another_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer than"):
        copy_in("COPY runs (id, payload, queue) FROM STDIN")
    with pytest.raises(ValueError, match="not a COPY"):
        copy_in("COPY runs (id, payload, queue, at) FROM STDIN (FORMAT BINARY)")
