"""``Tx.one_snapshot``: a read made of several statements sees one moment (PostgreSQL runs
it as ``REPEATABLE READ``; a SQLite transaction already reads one snapshot)."""

from __future__ import annotations

from typing import Any

from outlast.engine import Engine
from outlast.store import open_store
from tests.conftest import definition


def test_statements_of_one_snapshot_do_not_see_a_commit_made_between_them(
        store_url: str) -> None:
    reader, writer = open_store(store_url), open_store(store_url)
    try:
        engine = Engine(writer)
        engine.register_tasks("dev", [definition("job")])
        first = engine.trigger("dev", _request())
        with reader.transaction(write=False) as tx:
            tx.one_snapshot()
            before = [r["id"] for r in tx.all("get_runs", ids=[first.row["id"]])]
            second = engine.trigger("dev", _request())  # committed by another connection
            between = tx.all("get_runs", ids=[second.row["id"]])
        assert before == [first.row["id"]] and between == []
    finally:
        reader.close()
        writer.close()


def _request() -> Any:
    from outlast.core.options import parse_options
    from outlast.engine import NewRun

    return NewRun("job", "null", parse_options({}, 0.0))
