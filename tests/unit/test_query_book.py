"""Optional lines of named queries (``-- when NAME`` / ``-- unless NAME``): the planner is
sent only the filters in use."""

from __future__ import annotations

from outlast.store.queries import QueryBook

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
        "WHERE environment = :environment\n  AND run_tags.tag = :tag")
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
