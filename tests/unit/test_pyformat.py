"""``to_pyformat``: the PostgreSQL store's named parameters in psycopg's style."""

from __future__ import annotations

from outlast.store.postgres.store import to_pyformat


def test_parameters_casts_and_percent_signs() -> None:
    assert (to_pyformat("SELECT :a::int, 'x%' WHERE b = :b")
            == "SELECT %(a)s::int, 'x%%' WHERE b = %(b)s")


def test_a_parameter_cast_to_text_array_everywhere_is_sent_in_binary() -> None:
    """Only where every use is cast: a placeholder has one format for all its uses."""
    assert (to_pyformat("SELECT * FROM t WHERE id = ANY(:ids::text[]) OR :ids::text[] = '{}'")
            == "SELECT * FROM t WHERE id = ANY(%(ids)b::text[]) OR %(ids)b::text[] = '{}'")
    assert to_pyformat("SELECT :q::text[], :q") == "SELECT %(q)s::text[], %(q)s"
    assert to_pyformat("SELECT :n::float8[]") == "SELECT %(n)s::float8[]"
