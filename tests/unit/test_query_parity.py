"""Both dialects define the same named queries, and each engine call names a real query."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import outlast
from outlast.store.queries import load_queries, migration_files, parse_queries

SRC = Path(outlast.__file__).parent


def test_both_dialects_define_the_same_query_names() -> None:
    sqlite, postgres = set(load_queries("sqlite")), set(load_queries("postgres"))
    assert sqlite, "no queries loaded"
    assert sorted(sqlite - postgres) == [], "only in sqlite"
    assert sorted(postgres - sqlite) == [], "only in postgres"


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_no_query_is_empty(dialect: str) -> None:
    empty = [name for name, text in load_queries(dialect).items() if not text.strip()]
    assert empty == []


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_both_dialects_use_the_same_parameters(dialect: str) -> None:
    param = re.compile(r"(?<![:\w]):(\w+)")
    mine = {n: set(param.findall(q)) for n, q in load_queries(dialect).items()}
    other = "postgres" if dialect == "sqlite" else "sqlite"
    theirs = {n: set(param.findall(q)) for n, q in load_queries(other).items()}
    assert {n: p for n, p in mine.items() if theirs.get(n) != p} == {}


def test_every_query_named_in_the_code_exists() -> None:
    call = re.compile(r"""tx\.(?:one|all|run|many)\(\s*["'](\w+)["']""")
    used = {
        name
        for path in SRC.rglob("*.py")
        for name in call.findall(path.read_text())
    }
    assert used, "the pattern found no query calls"
    assert sorted(used - set(load_queries("sqlite"))) == []


def test_migrations_are_numbered_alike_in_both_dialects() -> None:
    sqlite = [name for name, _ in migration_files("sqlite")]
    postgres = [name for name, _ in migration_files("postgres")]
    assert sqlite == postgres
    assert all(re.fullmatch(r"\d{4}_\w+\.sql", name) for name in sqlite)
    numbers = [int(name[:4]) for name in sqlite]
    assert numbers == list(range(1, len(numbers) + 1))


def test_parse_queries_rejects_a_duplicate_name() -> None:
    with pytest.raises(ValueError, match="twice"):
        parse_queries("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_parse_queries_splits_on_headers() -> None:
    assert parse_queries("-- intro\n-- name: a\nSELECT 1\n\n-- name: b\nSELECT :x\n") == {
        "a": "SELECT 1",
        "b": "SELECT :x",
    }
