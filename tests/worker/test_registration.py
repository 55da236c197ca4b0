"""A worker's start: it registers what its children loaded in one transaction, claims
right after it, and only then starts upkeep and looks for hook jobs.

Its tasks, the task files that failed to import and its version are one write: a worker's
first claim waits for it, so its start waits for one commit rather than three, and a
failure leaves none of it half written (the next pass registers it all again). Upkeep and
hook jobs would compete with that first claim for the database and the interpreter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from outlast.core.versions import CURRENT
from outlast.engine import Engine
from outlast.jsonutil import loads
from outlast.store import Store
from outlast.worker.registration import WorkerVersion
from outlast.worker.sweeping import SweeperTurn
from tests.conftest import definition
from tests.eventually import eventually
from tests.worker.support import running_worker

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


def test_the_first_claim_comes_before_upkeep_and_hook_jobs(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    engine = Engine(store, lease_seconds=3)
    calls: list[str] = []
    for method, name in (("register_worker_code", "register"), ("record_and_claim", "claim"),
                         ("try_lead", "upkeep"), ("claim_hooks", "hooks")):
        original = getattr(engine, method)

        def recorded(*args: Any, _original: Any = original, _name: str = name,
                     **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(engine, method, recorded)
    with running_worker(engine, concurrency=1):
        eventually(lambda: {"upkeep", "hooks"} <= set(calls), 10, "upkeep and hook jobs")
    first = {name: calls.index(name) for name in ("register", "claim", "upkeep", "hooks")}
    assert first["register"] < first["claim"] < min(first["upkeep"], first["hooks"])


def test_upkeep_starts_without_a_claim_after_a_while(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that never claims (its task modules do not import) still does upkeep."""
    monkeypatch.setattr(SweeperTurn, "START_WITHIN", 0.05)
    turn = SweeperTurn(engine, "w1")
    assert turn.next_due() is None  # no pass yet: nothing to time
    turn.maybe_sweep(claimed=False)
    try:
        assert turn.upkeep is None
        assert turn.next_due() is not None
        time.sleep(0.06)
        turn.maybe_sweep(claimed=False)
        assert turn.upkeep is not None and turn.upkeep.running and turn.next_due() is None
    finally:
        turn.release()


def test_upkeep_is_made_only_once_the_worker_has_claimed(engine: Engine) -> None:
    """Making it loads ``outlast.upkeep`` (~7 ms): not in the pass that registers the
    worker's code and claims its first runs, which the first run waits for."""
    turn = SweeperTurn(engine, "w1")
    try:
        turn.maybe_sweep(claimed=False)
        assert turn.upkeep is None and not turn.started
        turn.maybe_sweep(claimed=True)
        assert turn.upkeep is not None and turn.upkeep.running and turn.next_due() is None
    finally:
        turn.release()
