"""``arrays``: list parameters written as PostgreSQL array literals."""

from __future__ import annotations

import pytest

from outlast.store.postgres.arrays import literal, literal_params, with_literals


def test_only_parameters_cast_to_one_kind_of_array_at_every_use() -> None:
    sql = ("SELECT %(a)s::text[], %(b)s::float8[], %(c)s, %(c)s::text[], %(d)s::int[], "
           "ANY(%(d)s::int[]), %(e)s::double precision[], %(f)s::text[], %(f)s::int[]")
    assert literal_params(sql) == (("a", "text"), ("b", "float"), ("d", "int"),
                                   ("e", "float"))


@pytest.mark.parametrize(("values", "kind", "text"), [
    (["run_1", "run_2"], "text", "{run_1,run_2}"),
    ([], "text", "{}"),
    ([""], "text", '{""}'),
    (["null", "NULL"], "text", '{"null","NULL"}'),
    ([None, "a"], "text", '{NULL,"a"}'),
    (['x"y', "a\\b", "c,d", " s", "{}"], "text", r'{"x\"y","a\\b","c,d"," s","{}"}'),
    ([1, -2, None], "int", "{1,-2,NULL}"),
    ([1.5, 2, float("inf"), float("-inf"), float("nan"), None], "float",
     "{1.5,2,Infinity,-Infinity,NaN,NULL}"),
])
def test_literals(values: list[object], kind: str, text: str) -> None:
    assert literal(values, kind) == text


@pytest.mark.parametrize(("values", "kind"), [
    (["a\x00b"], "text"),   # a NUL: psycopg refuses it, as the server does
    ([1], "text"),
    ([True], "int"),         # a bool is not an int here
    ([1.0], "int"),          # psycopg would round it; left to psycopg
    ([{"a": 1}], "float"),
])
def test_what_is_left_to_psycopg(values: list[object], kind: str) -> None:
    assert literal(values, kind) is None


def test_with_literals_copies_only_when_it_writes_one() -> None:
    params = {"ids": ["a", "b"], "n": 3}
    sql = "SELECT %(ids)s::text[], %(n)s"
    out = with_literals(sql, params)
    assert out == {"ids": "{a,b}", "n": 3} and params == {"ids": ["a", "b"], "n": 3}
    same = {"ids": "not a list", "n": 3}
    assert with_literals(sql, same) is same
