"""A worker registers what its children loaded in one transaction, and claims after it.

Its tasks, the task files that failed to import and its version are one write: a worker's
first claim waits for it, so its start waits for one commit rather than three, and a
failure leaves none of it half written (the next pass registers it all again).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from outlast.core.versions import CURRENT
from outlast.engine import Engine
from outlast.jsonutil import loads
from outlast.worker.registration import WorkerVersion
from tests.conftest import definition

FAILED = {"tasks/broken.py": {"error": "SyntaxError: invalid syntax",
                              "traceback": "Traceback ...\nSyntaxError: invalid syntax"}}


@contextmanager
def counting_transactions(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Each transaction the engine's store opens, as its ``write`` flag."""
    opened: list[bool] = []
    original = engine.store.transaction

    def transaction(*args: Any, **kwargs: Any) -> Any:
        opened.append(kwargs.get("write", True))
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.store, "transaction", transaction)
    yield opened
    monkeypatch.undo()


def test_a_worker_registers_its_code_in_one_transaction(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.register_worker("dev", "w1", {"hostname": "h", "pid": 1, "version": "0",
                                         "queues": ["*"], "concurrency": 1})
    version = WorkerVersion()
    with counting_transactions(engine, monkeypatch) as opened:
        version.register(engine, "dev", "w1", [definition("a"), definition("b")], "v-1",
                         FAILED)
    assert opened == [True]
    assert version.code is not None and version.code.tasks == ("a", "b")
    assert sorted(t["id"] for t in engine.list_tasks("dev")) == ["a", "b"]
    (worker,) = engine.list_workers("dev")
    assert (worker["code_version"], loads(worker["import_errors"])) == ("v-1", FAILED)
    assert engine.get_version("dev", "v-1")["state"] == CURRENT


def test_a_fixed_generation_clears_the_import_errors(engine: Engine) -> None:
    engine.register_worker("dev", "w1", {"hostname": "h", "pid": 1, "version": "0",
                                         "queues": ["*"], "concurrency": 1})
    version = WorkerVersion(dev=True)
    version.register(engine, "dev", "w1", [definition("a")], "v-1", FAILED)
    version.register(engine, "dev", "w1", [definition("a"), definition("b")], "v-2", None)
    (worker,) = engine.list_workers("dev")
    assert (worker["code_version"], worker["import_errors"]) == ("v-2", None)
    assert engine.get_version("dev", "v-2")["state"] == CURRENT
