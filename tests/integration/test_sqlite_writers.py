"""SQLite: writing threads of one process take turns on a lock before ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.store.sqlite.store import SQLiteStore, _WriterLock


def test_many_writing_threads_each_commit_every_run(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/w.db")
    store.migrate()
    engine = Engine(store)
    engine.register_tasks("dev", [TaskDefinition(id="job", queue="job")])
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                engine.trigger("dev", NewRun("job", json.dumps([n, i]), TriggerOptions()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a writer is still waiting"
    assert errors == []
    runs, _ = engine.list_runs("dev", limit=1000)
    assert len(runs) == 400
    store.close()


def test_a_failed_transaction_hands_the_lock_on(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/w.db")
    store.migrate()
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("rolled back")
    done = threading.Event()

    def write() -> None:
        with store.transaction() as tx:
            tx.one("ping")
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(10)
    store.close()


def test_a_forked_child_gets_a_lock_of_its_own() -> None:
    lock = _WriterLock()
    with lock.held():
        inherited = lock._lock
        lock._pid = -1  # as if this were a child forked while a parent thread held it
        with lock.held():  # a fresh lock: no wait for a holder that does not exist here
            assert lock._lock is not inherited and lock._lock.locked()
            assert lock._pid == os.getpid()
    assert not lock._lock.locked()


def test_a_failed_commit_leaves_no_transaction_holding_the_lock(tmp_path: Path) -> None:
    store = SQLiteStore(f"sqlite:///{tmp_path}/w.db")
    store.migrate()
    conn = store._conn()
    conn.execute("PRAGMA foreign_keys=ON")  # a deferred constraint fails at COMMIT itself
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id) "
                 "DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as tx:
        tx._conn.execute("INSERT INTO child VALUES (1)")
    assert not conn.in_transaction
    other = sqlite3.connect(store.path, timeout=0.5)  # another process's writer
    try:
        other.execute("BEGIN IMMEDIATE")  # would wait, then fail: "database is locked"
        other.execute("ROLLBACK")
    finally:
        other.close()
    with store.transaction() as tx:  # and this thread's next transaction commits
        tx._conn.execute("INSERT INTO parent VALUES (1)")
    assert store._conn().execute("SELECT count(*) FROM parent").fetchone()[0] == 1
    store.close()
