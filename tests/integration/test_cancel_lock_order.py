"""Canceling a tree while a run inside it writes to its parent: no deadlock.

A running grandchild that completes or calls ``metadata.parent`` locks its own row, then
its parent's. A cancel of the root must lock in that same order (children first), or the
two transactions wait for each other until PostgreSQL aborts one of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun


def _child(engine: Engine, parent: str | None, root: str | None) -> str:
    request = NewRun("t", "null", TriggerOptions(), parent_id=parent, root_id=root)
    return str(engine.trigger("dev", request).row["id"])


def _signal_before_the_cancel_waits(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                    grandchild: str, waits: threading.Event) -> None:
    """Set ``waits`` just before the cancel would wait for the upward writer.

    On PostgreSQL the cancel waits at its lock of the grandchild, which the writer holds;
    on SQLite, whose writers take turns, it waits to begin at all. Either way the cancel
    holds, at that moment, every row lock it took before: in the wrong order, the child's.
    """
    begin = engine.store.transaction

    def cancel_lock(tx: Any) -> Any:
        one = tx.one

        def lock(name: str, /, **params: Any) -> Any:
            if name == "lock_run" and params.get("id") == grandchild:
                waits.set()
            return one(name, **params)

        tx.one = lock
        return tx

    @contextmanager
    def transaction(write: bool = True) -> Iterator[Any]:
        if write and engine.store.dialect == "sqlite":
            waits.set()
        with begin(write) as tx:
            yield cancel_lock(tx) if write else tx

    monkeypatch.setattr(engine.store, "transaction", transaction)


def test_cancel_and_an_upward_write_do_not_deadlock(
        engine: Engine, register: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    register(engine, "t")
    root = _child(engine, None, None)
    child = _child(engine, root, root)
    grandchild = _child(engine, child, root)
    errors: list[BaseException] = []
    locked, cancel_waits = threading.Event(), threading.Event()
    begin = engine.store.transaction  # the writer's, before the cancel's is watched

    def upward_write() -> None:
        """As a grandchild's write to its parent: its own row, then, once the cancel is
        about to wait for it, the parent's."""
        try:
            with begin() as tx:
                tx.one("lock_run", id=grandchild)
                locked.set()
                assert cancel_waits.wait(10), "the cancel never reached the grandchild"
                tx.one("lock_run", id=child)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            locked.set()

    writer = threading.Thread(target=upward_write)
    writer.start()
    assert locked.wait(5)
    _signal_before_the_cancel_waits(engine, monkeypatch, grandchild, cancel_waits)
    try:
        canceled = engine.cancel("dev", root)
    finally:
        writer.join(10)
    assert not errors, errors
    assert canceled["status"] == "CANCELED"
    assert {engine.retrieve("dev", r)["status"] for r in (child, grandchild)} == {"CANCELED"}
