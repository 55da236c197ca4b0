"""Optional lines of named queries (``-- when NAME`` / ``-- unless NAME``): the planner is
sent only the filters in use."""

from __future__ import annotations

import pytest

from outlast.store.queries import QueryBook, compact, parse_queries

SQL = """SELECT * FROM runs -- unless tag
SELECT runs.* FROM run_tags JOIN runs ON runs.id = run_tags.run_id -- when tag
WHERE environment = :environment
  AND task_id = :task_id -- when task_id
  AND run_tags.tag = :tag -- when tag"""


def test_lines_are_sent_only_when_their_parameter_is_given() -> None:
    book = QueryBook({"q": SQL, "plain": "SELECT 1"})
    assert book.text("q", {"environment": "dev"}) == (
        "SELECT * FROM runs\nWHERE environment = :environment")
    assert book.text("q", {"environment": "dev", "task_id": None, "tag": "vip"}) == (
        "SELECT runs.* FROM run_tags JOIN runs ON runs.id = run_tags.run_id\n"
        "WHERE environment = :environment\nAND run_tags.tag = :tag")
    assert book.text("plain", {}) == "SELECT 1"


def test_each_shape_is_converted_once_for_the_driver() -> None:
    converted: list[str] = []

    def convert(sql: str) -> str:
        converted.append(sql)
        return sql.upper()

    book = QueryBook({"q": SQL}, convert)
    first = book.text("q", {"task_id": "a"})
    assert book.text("q", {"task_id": "b"}) is first
    assert "TASK_ID = :TASK_ID" in first
    book.text("q", {"tag": "x"})
    assert len(converted) == 2


def test_a_query_is_converted_on_its_first_use_only() -> None:
    """A process sends a few dozen of the hundreds of queries: a worker's start does not
    wait for the others to be converted."""
    converted: list[str] = []

    def convert(sql: str) -> str:
        converted.append(sql)
        return sql

    book = QueryBook({"q": SQL, "plain": "SELECT 1", "unused": "SELECT 2"}, convert)
    assert converted == []
    assert book.text("plain", {}) is book.text("plain", {"x": 1})
    book.text("q", {})
    assert converted == ["SELECT 1", "SELECT * FROM runs\nWHERE environment = :environment"]
    with pytest.raises(KeyError):
        book.text("nope", {})


def test_the_driver_gets_no_comments_nor_indentation() -> None:
    """psycopg caches its parse of a query only up to 4 KB of text: the claim statements'
    comments and indentation put them over it."""
    sql = """-- what this query is for
    SELECT '--not a comment' AS a, 'x' -- a comment
      FROM runs  -- another

    WHERE a - 1 > 0 -- when a"""
    book = QueryBook({"q": sql, "plain": "SELECT 1 -- one\n\n  FROM t"})
    assert book.text("q", {"a": 1}) == \
        "SELECT '--not a comment' AS a, 'x'\nFROM runs\nWHERE a - 1 > 0"
    assert book.text("q", {}) == "SELECT '--not a comment' AS a, 'x'\nFROM runs"
    assert book.text("plain", {}) == "SELECT 1\nFROM t"


def test_the_claim_statements_fit_the_drivers_cache() -> None:
    from outlast.store.postgres.store import to_pyformat
    from outlast.store.queries import load_queries

    book = QueryBook(load_queries("postgres"), to_pyformat)
    for name in ("claim_unlimited", "claim_unlimited_in", "insert_runs", "list_runs"):
        for queues in (None, ["a"]):
            for version in (None, "v1"):  # a worker claims with its version
                text = book.text(name, {"queues": queues, "version": version})
                assert len(text.encode()) <= 4096, (name, version)


def test_a_part_stands_where_a_query_includes_it_and_is_no_query_itself() -> None:
    text = """-- name: first
SELECT a
-- include: tail

-- part: tail
-- shared text
FROM t WHERE x = :x

-- name: second
SELECT b
-- include: tail
"""
    queries = parse_queries(text)
    assert set(queries) == {"first", "second"}
    assert compact(queries["first"]) == "SELECT a\nFROM t WHERE x = :x"
    assert compact(queries["second"]) == "SELECT b\nFROM t WHERE x = :x"


def test_an_include_of_an_unknown_part_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown part 'nope'"):
        parse_queries("-- name: q\nSELECT 1\n-- include: nope\n")


def test_a_part_may_include_another() -> None:
    text = """-- name: q
UPDATE t SET a = 1
-- include: ending

-- part: ending
RETURNING
-- include: columns

-- part: columns
id, a
"""
    assert compact(parse_queries(text)["q"]) == "UPDATE t SET a = 1\nRETURNING\nid, a"


def test_a_part_that_includes_itself_is_refused() -> None:
    with pytest.raises(ValueError, match="part 'loop' includes itself"):
        parse_queries("-- name: q\nSELECT 1\n-- include: loop\n\n-- part: loop\n"
                      "-- include: loop\n")


def test_every_claim_returns_the_same_columns() -> None:
    """What the worker reads of a claimed run comes from one list, in both dialects and
    both claim paths (the counting path adds the concurrency key its rated starts log)."""
    from outlast.store.queries import load_queries
    from outlast.worker.claim_ahead import _RUN_FIELDS

    def returned(dialect: str, name: str) -> set[str]:
        sql = compact(load_queries(dialect)[name])
        block = sql.rsplit("RETURNING", 1)[1] if name != "claim_unlimited" or \
            dialect == "sqlite" else sql.split("RETURNING", 1)[1].split("),", 1)[0]
        return {c.strip() for c in block.replace("\n", " ").split(",")}

    sqlite = returned("sqlite", "claim_unlimited") - {"0 AS limited_queues"}
    # what the worker reads of each claimed run: its child's fields, its lease and
    # attempt, the claim order, the queue wait it measures
    read = {*_RUN_FIELDS, "lease_id", "lease_expires_at", "attempt_count", "priority",
            "available_at", "started_at", "queued_at"}
    assert read <= sqlite, read - sqlite
    assert returned("postgres", "claim_unlimited") == sqlite
    assert returned("postgres", "start_runs") == returned("sqlite", "start_runs") \
        == sqlite | {"concurrency_key"}
