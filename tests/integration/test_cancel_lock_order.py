"""Canceling a tree while a run inside it writes to its parent: no deadlock.

A running grandchild that completes or calls ``metadata.parent`` locks its own row, then
its parent's. A cancel of the root must lock in that same order (children first), or the
two transactions wait for each other until PostgreSQL aborts one of them.
"""

from __future__ import annotations

import threading
import time

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun


def _child(engine: Engine, parent: str | None, root: str | None) -> str:
    request = NewRun("t", "null", TriggerOptions(), parent_id=parent, root_id=root)
    return str(engine.trigger("dev", request).row["id"])


def test_cancel_and_an_upward_write_do_not_deadlock(engine: Engine, register) -> None:
    register(engine, "t")
    root = _child(engine, None, None)
    child = _child(engine, root, root)
    grandchild = _child(engine, child, root)
    errors: list[BaseException] = []
    locked = threading.Event()

    def upward_write() -> None:
        """As a grandchild's write to its parent: its own row, a pause, then the parent."""
        try:
            with engine.store.transaction() as tx:
                tx.one("lock_run", id=grandchild)
                locked.set()
                time.sleep(0.3)  # the cancel starts meanwhile
                tx.one("lock_run", id=child)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            locked.set()

    writer = threading.Thread(target=upward_write)
    writer.start()
    assert locked.wait(5)
    try:
        canceled = engine.cancel("dev", root)
    finally:
        writer.join(10)
    assert not errors, errors
    assert canceled["status"] == "CANCELED"
    assert {engine.retrieve("dev", r)["status"] for r in (child, grandchild)} == {"CANCELED"}
