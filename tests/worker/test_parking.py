"""A real worker parks a run whose code no longer matches its journal, and the run gives
back its worker slot and its queue slot at once, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.durable_requests import Op, Record
from outlast.engine import Engine, Outcome
from outlast.store import Store
from outlast.worker import runtime
from tests.worker.support import running_worker, trigger, wait_final, wait_status


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def started_with_an_older_step_name(engine: Engine) -> str:
    """A run of ``renamed-step`` whose first attempt recorded step "charge" and was handed
    back (as by a worker of the code before the rename)."""
    engine.register_tasks("dev", [TaskDefinition(id="renamed-step", queue="one-at-a-time")])
    run_id = trigger(engine, "renamed-step")
    (row,) = engine.claim("dev", "older-worker", None, 1)
    assert row["id"] == run_id
    runtime.dispatch(engine, "dev", Record(Op(run_id, row["lease_id"], 0, "step", "charge"),
                                           "ch_1"))
    engine.record([Outcome(run_id, row["lease_id"], row["attempt_count"], "released")])
    return run_id


def test_a_parked_run_frees_its_worker_and_queue_slot(live_engine: Engine,
                                                      tmp_path: Path) -> None:
    run_id = started_with_an_older_step_name(live_engine)
    with running_worker(live_engine, concurrency=1):
        wait_status(live_engine, run_id, "PARKED")
        same_queue = wait_final(live_engine, trigger(live_engine, "serial"))
        other = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "Ada"}))
    assert (same_queue["status"], other["status"]) == ("COMPLETED", "COMPLETED")
    run = live_engine.retrieve("dev", run_id)
    assert (run["status"], run["attempts"]) == ("PARKED", 1)  # counted, no retry spent
    assert run["parked"]["recorded"] == {"kind": "step", "name": "charge"}
    assert run["parked"]["called"] == {"kind": "step", "name": "charge-card"}
    assert not (tmp_path / "renamed-step").exists(), "the renamed step ran"
    kinds = [e["kind"] for e in live_engine.events(run_id)]
    assert kinds.count("start_attempt") == 2 and kinds[-1] == "park"
