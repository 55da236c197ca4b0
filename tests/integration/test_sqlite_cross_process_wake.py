"""SQLite: a commit in one process wakes listeners in another at once (no polling)."""

from __future__ import annotations

import multiprocessing
import select
from pathlib import Path

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.engine.events import QUEUED_CHANNEL
from outlast.store import open_store
from tests.conftest import trigger_run


def _trigger_elsewhere(url: str) -> None:
    store = open_store(url)
    try:
        trigger_run(Engine(store), "t")
    finally:
        store.close()


def test_a_trigger_in_another_process_makes_the_listener_readable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = open_store(url)
    store.migrate()
    Engine(store).register_tasks("dev", [TaskDefinition(id="t", queue="q")])
    listener = store.listen([QUEUED_CHANNEL])
    try:
        assert not select.select([listener.fileno()], [], [], 0)[0]
        proc = multiprocessing.get_context("spawn").Process(target=_trigger_elsewhere,
                                                            args=(url,))
        proc.start()
        proc.join(30)
        assert proc.exitcode == 0
        # readable without anyone polling data_version: the other process said so
        assert select.select([listener.fileno()], [], [], 10)[0]
        assert (QUEUED_CHANNEL, "q") in listener.drain()
        # and this process's own commits still wake it
        trigger_run(Engine(store), "t")
        assert select.select([listener.fileno()], [], [], 10)[0]
        assert (QUEUED_CHANNEL, "q") in listener.drain()
    finally:
        listener.close()
        store.close()
