"""A SQLite writer waits for another connection's write lock in short, even steps.

SQLite's own busy handler sleeps up to 100 ms between tries, so the writer that waited
longest lost to each newcomer; ``store/sqlite/busy.py`` tries ``BEGIN IMMEDIATE`` again at
most ``MAX_PAUSE`` apart, and every other statement keeps ``busy_timeout``.
"""

from __future__ import annotations

import sqlite3
import threading
from itertools import islice
from pathlib import Path

import pytest

from outlast.store import open_store
from outlast.store.sqlite import busy


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={busy.BUSY_TIMEOUT_MS}")
    return conn


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "busy.db"
    with _connect(path) as conn:
        conn.execute("CREATE TABLE t (n INTEGER)")
    return path


def test_a_writer_gets_the_lock_once_the_holder_commits_and_sees_its_write(
        database: Path) -> None:
    holder, waiter = _connect(database), _connect(database)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    tries: list[str] = []
    tried = threading.Event()

    def trace(statement: str) -> None:
        if statement == "BEGIN IMMEDIATE":
            tries.append(statement)
            tried.set()

    waiter.set_trace_callback(trace)
    seen: list[int] = []

    def write() -> None:
        busy.begin_immediate(waiter)
        seen.extend(r[0] for r in waiter.execute("SELECT n FROM t"))
        waiter.execute("COMMIT")

    thread = threading.Thread(target=write)
    thread.start()
    assert tried.wait(30)  # its first try met the holder's lock
    holder.execute("COMMIT")
    thread.join(30)
    assert not thread.is_alive()
    assert seen == [1]
    assert len(tries) >= 2  # tried again, not given up
    waiter.set_trace_callback(None)
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == busy.BUSY_TIMEOUT_MS


def test_a_writer_gives_up_with_database_is_locked_after_its_busy_timeout(
        database: Path) -> None:
    holder, waiter = _connect(database), _connect(database)
    waiter.execute("PRAGMA busy_timeout=10")
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        busy.begin_immediate(waiter)
    assert not waiter.in_transaction
    assert waiter.execute("PRAGMA busy_timeout").fetchone()[0] == 10
    holder.execute("ROLLBACK")


def test_an_error_other_than_busy_is_raised_at_its_first_try(database: Path) -> None:
    conn = _connect(database)
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        busy.begin_immediate(conn)
    conn.execute("ROLLBACK")


def test_tries_are_never_further_apart_than_max_pause() -> None:
    steps = list(islice(busy.pauses(), 50))
    assert steps[0] == busy.FIRST_PAUSE
    assert max(steps) == busy.MAX_PAUSE <= 0.002
    assert steps == sorted(steps)


def test_the_store_writes_once_another_connection_lets_the_lock_go(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outlast.db'}"
    store = open_store(url)
    try:
        store.migrate()
        holder = _connect(tmp_path / "outlast.db")
        holder.execute("BEGIN IMMEDIATE")
        done = threading.Event()

        def write() -> None:
            with store.transaction() as tx:
                tx.all("lock_runs", ids=["none"])
            done.set()

        thread = threading.Thread(target=write)
        thread.start()
        holder.execute("COMMIT")
        thread.join(30)
        assert done.is_set()
    finally:
        store.close()
