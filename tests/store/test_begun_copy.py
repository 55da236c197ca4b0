"""A bulk load that opens its transaction sends ``BEGIN`` in one query with its ``COPY``
(``store/postgres/begun_copy.py``): what it writes, commits and raises is what the two
round trips gave."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import LOAD_FROM
from outlast.store.postgres.begun_copy import copy_begun
from outlast.store.postgres.store import PostgresStore
from tests.conftest import T0


def _row(run_id: str, **values: Any) -> dict[str, Any]:
    return {"id": run_id, "environment": "dev", "task_id": "job", "queue": "default",
            "status": "QUEUED", "payload": '{"n":1}', "priority": 0, "concurrency_key": None,
            "tags": "[]", "metadata": "{}", "idempotency_key": None,
            "idempotency_expires_at": None, "max_attempts": 3, "retry": "{}",
            "machine": "small-1x", "max_duration": None, "ttl": None, "available_at": T0,
            "expires_at": None, "parent_id": None, "root_id": None, "batch_id": None,
            "replayed_from": None, "version": None, "traceparent": None, "created_at": T0,
            "queued_at": T0, "updated_at": T0, "created_event": None, **values}


def _ids(store: PostgresStore, prefix: str) -> list[str]:
    with store.connection() as conn:
        rows = conn.execute("SELECT id FROM runs WHERE id LIKE %s ORDER BY id",
                            (prefix + "%",)).fetchall()
    return [r["id"] for r in rows]


def _sent(store: PostgresStore, engine: Engine, runs: int) -> list[list[str]]:
    """The messages the store's only connection sent for a batch of ``runs`` plain
    triggers (libpq's protocol trace), each as its fields."""
    with store.connection() as conn:  # the store's only one: the batch gets it next
        pass
    batch = [NewRun("t", "null", TriggerOptions()) for _ in range(runs)]
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            engine.trigger_batch("dev", batch)
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        lines = [line.split("\t") for line in trace.read().splitlines()]
    return [f[3:] for f in lines if len(f) > 3 and f[1] == "F"]


def test_a_bulk_trigger_begins_with_its_copy(pg_store: PostgresStore, register: Any) -> None:
    """``BEGIN``, the id of the runs' shared ``created`` event and the ``COPY`` are one
    query; the events, notes and ``COMMIT`` follow together: two waits for the server,
    where ``BEGIN`` alone was a third and the event's id a fourth."""
    engine = Engine(pg_store)
    register(engine, "t")
    _sent(pg_store, engine, LOAD_FROM)  # the events' statement prepared on the connection
    sent = _sent(pg_store, engine, LOAD_FROM)
    queries = [f[1].strip() for f in sent if f[0] == "Query"]
    assert len(queries) == 1 and queries[0].startswith('"BEGIN; SELECT nextval(')
    assert "AS id; COPY runs (id, payload," in queries[0]
    assert [f[0] for f in sent].count("Sync") == 1
    assert not any("BEGIN" in " ".join(f) for f in sent if f[0] != "Query")
    assert len(_ids(pg_store, "run_")) == 2 * LOAD_FROM


def test_a_lazy_commit_and_one_snapshot_go_with_the_copy(pg_store: PostgresStore) -> None:
    with pg_store.transaction() as tx:
        tx.lazy_commit()
        tx.one_snapshot()
        tx.load("load_runs", [_row("run_begun_lazy")])
        assert tx.one("get_run", id="run_begun_lazy", environment="dev") is not None
    assert _ids(pg_store, "run_begun_") == ["run_begun_lazy"]
    with pg_store.connection() as conn:  # neither setting outlives its transaction
        row = conn.execute("SHOW synchronous_commit").fetchone()
        assert row is not None and row["synchronous_commit"] == "on"
        row = conn.execute("SHOW transaction_isolation").fetchone()
        assert row is not None and row["transaction_isolation"] == "read committed"


def test_a_row_the_server_refuses_undoes_the_load(pg_store: PostgresStore) -> None:
    rows = [_row(f"run_refused_{n:03}") for n in range(300)]
    rows[250]["priority"] = "high"  # an integer column: past the first chunks
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), \
            pg_store.transaction() as tx:
        tx.load("load_runs", rows)
    assert _ids(pg_store, "run_refused_") == []
    with pg_store.transaction() as tx:  # the connection went back usable
        tx.load("load_runs", [_row("run_refused_after")])
    assert _ids(pg_store, "run_refused_") == ["run_refused_after"]


def test_rows_that_fail_after_the_first_chunks_undo_the_load(pg_store: PostgresStore) -> None:
    def rows() -> Iterator[dict[str, Any]]:
        for n in range(300):
            yield _row(f"run_failing_{n:03}", payload=json.dumps({"n": n}))
        raise ValueError("item 300 refused")

    with pytest.raises(ValueError, match="item 300 refused"), pg_store.transaction() as tx:
        tx.load("load_runs", rows())
    assert _ids(pg_store, "run_failing_") == []
    with pg_store.transaction() as tx:
        tx.load("load_runs", [_row("run_failing_after")])
    assert _ids(pg_store, "run_failing_") == ["run_failing_after"]


def test_a_copy_the_server_cannot_start_raises_its_error(pg_store: PostgresStore) -> None:
    made: list[int] = []

    def data() -> Iterator[str]:
        made.append(1)
        yield "a\tb\n"

    with pg_store.connection() as conn:
        with pytest.raises(psycopg.errors.UndefinedTable):
            copy_begun(conn, "BEGIN; COPY no_such_table (a, b) FROM STDIN", data())
        assert made == [1]  # the first chunk was made while the server answered
        conn.rollback()
        assert conn.execute("SELECT 1 AS ok").fetchone() == {"ok": 1}


def test_nothing_but_many_goes_while_a_load_streams(pg_store: PostgresStore) -> None:
    """A statement that needs an answer cannot be sent in the middle of a ``COPY``: asked
    for by the load's rows, it fails the transaction instead of the connection."""
    def rows(tx: Any) -> Iterator[dict[str, Any]]:
        yield _row("run_answered")
        tx.one("get_run", id="run_answered", environment="dev")

    with pytest.raises(RuntimeError, match="only many"), pg_store.transaction() as tx:
        tx.load("load_runs", rows(tx))
    assert _ids(pg_store, "run_answered") == []
    with pg_store.transaction() as tx:
        tx.load("load_runs", [_row("run_answered_after")])
    assert _ids(pg_store, "run_answered") == ["run_answered_after"]
