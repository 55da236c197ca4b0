"""SQLite: writing threads of one process take turns on a lock before ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from outlast.engine import Engine, NewRun
from outlast.engine.definitions import TaskDefinition
from outlast.sdk.options import TriggerOptions
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
        lock._pid = -1  # as if this were a child forked while a parent thread held it
        with lock.held():  # a fresh lock: no wait for a holder that does not exist here
            pass
