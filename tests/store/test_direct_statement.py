"""A transaction of one statement with text parameters (a trigger) goes through libpq
without a cursor (``store/postgres/direct.py``); what it writes and what it raises are
those of the cursor's way."""

from __future__ import annotations

import json
import time
from typing import Any

import psycopg
import pytest

from outlast.engine import Engine, events
from outlast.store.postgres import direct
from outlast.store.postgres.store import PostgresStore
from tests.conftest import require_postgres


def test_statement_in_libpq_style() -> None:
    stmt = direct.Statement("SELECT %(a)s::int, %(b)s::text, %(a)s::text, '100%%'")
    assert stmt.text == b"SELECT $1::int, $2::text, $1::text, '100%'"
    assert stmt.params == ("a", "b") and not stmt.uncast
    assert stmt.values({"a": 1, "b": None}) == [b"1", None]
    assert stmt.values({"a": 0.1, "b": "é"}) == [b"0.1", "é".encode()]
    assert stmt.values({"a": True, "b": None}) is None  # not a text or a number
    assert stmt.values({"a": [1], "b": None}) is None
    assert stmt.values({"a": 1, "b": "a\x00b"}) is None  # libpq would cut it at the NUL
    assert direct.Statement("SELECT %(a)s::int, %(a)s").uncast  # once without a cast
    assert direct.Statement("SELECT %(ids)b::text[]").uncast  # binary: psycopg's own


def test_a_trigger_after_the_connection_forgot_its_statements(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    engine = Engine(pg_store)
    register(engine, "t")
    first = trigger(engine, "t").row["id"]
    with pg_store.connection() as conn:  # as psycopg does after a ROLLBACK
        conn.execute("DEALLOCATE ALL")
    second = trigger(engine, "t").row["id"]
    assert engine.retrieve("dev", first)["status"] == "QUEUED"
    assert engine.retrieve("dev", second)["status"] == "QUEUED"


def test_a_trigger_sends_its_notifications(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    engine = Engine(pg_store)
    register(engine, "t")
    listener = pg_store.listen([events.QUEUED_CHANNEL])
    try:
        trigger(engine, "t")
        notes = _drained(listener)
    finally:
        listener.close()
    assert (events.QUEUED_CHANNEL, "t") in notes  # the queue: the task's id


def _drained(listener: Any) -> list[tuple[str, str]]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        notes: list[tuple[str, str]] = listener.drain()
        if notes:
            return notes
        time.sleep(0.01)
    return []


def test_an_error_is_psycopgs_and_the_connection_stays_usable(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    engine = Engine(pg_store)
    register(engine, "t")
    row = dict(trigger(engine, "t").row)
    with pytest.raises(psycopg.errors.UniqueViolation), pg_store.transaction() as tx:
        tx.many("insert_runs", [{"rows": json.dumps([row])}])  # the same id again
    assert trigger(engine, "t").created


def test_a_statement_alone_with_other_parameters_goes_through_a_cursor(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    engine = Engine(pg_store)
    register(engine, "t")
    run_id = trigger(engine, "t").row["id"]
    with pg_store.transaction() as tx:  # lists and a number: not texts
        tx.many("insert_created_events", [{"ids": [run_id], "statuses": ["QUEUED"],
                                           "at": 1.0}])
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert kinds == ["created", "created"]


def test_a_trigger_after_the_server_dropped_the_connection(
        pg_store: PostgresStore, register: Any, trigger: Any, _pg_session_db: Any) -> None:
    """The pooled connection's backend is gone (a restart): the next trigger gets a new
    connection, prepares its statement there, and its run is written."""
    engine = Engine(pg_store)
    register(engine, "t")
    trigger(engine, "t")
    with pg_store.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(_pg_session_db.url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the goodbye reaches the socket
        with psycopg.connect(_pg_session_db.url, autocommit=True) as admin:
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                 (pid,)).fetchone():
                break
        time.sleep(0.01)
    run_id = trigger(engine, "t").row["id"]
    assert engine.retrieve("dev", run_id)["status"] == "QUEUED"


def test_a_text_holding_a_nul_is_refused_not_cut_short(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    engine = Engine(pg_store)
    register(engine, "t")
    row = dict(trigger(engine, "t").row) | {"id": "run_nul", "concurrency_key": "a\x00b"}
    with pytest.raises(psycopg.DataError), pg_store.transaction() as tx:
        tx.many("insert_runs", [{**row, "tagged": None}])
    with pytest.raises(Exception, match="run_nul"):
        engine.retrieve("dev", "run_nul")


def test_a_connection_not_in_utf8_goes_through_psycopg(_pg_session_db: Any) -> None:
    """Texts are encoded here as UTF-8: a connection in another client encoding is left
    to psycopg, which encodes for it."""
    require_postgres()
    with psycopg.connect(_pg_session_db.url, autocommit=True,
                         client_encoding="LATIN1") as conn:
        assert not direct.execute(conn, "SELECT %(a)s::text", {"a": "é"})
    with psycopg.connect(_pg_session_db.url, autocommit=True) as conn:
        assert direct.execute(conn, "SELECT %(a)s::text", {"a": "é"})
