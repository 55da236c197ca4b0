"""``to_pyformat``: the PostgreSQL store's named parameters in psycopg's style."""

from __future__ import annotations

from outlast.store.postgres.store import to_pyformat


def test_parameters_casts_and_percent_signs() -> None:
    assert (to_pyformat("SELECT :a::int, 'x%' WHERE b = :b")
            == "SELECT %(a)s::int, 'x%%' WHERE b = %(b)s")


def test_every_parameter_is_a_text_placeholder() -> None:
    """Lists cast to arrays travel as literals (``arrays.with_literals``), not in binary."""
    assert (to_pyformat("SELECT * FROM t WHERE id = ANY(:ids::text[]) OR :ids::text[] = '{}'")
            == "SELECT * FROM t WHERE id = ANY(%(ids)s::text[]) OR %(ids)s::text[] = '{}'")
