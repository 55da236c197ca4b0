"""``waiting_for``: who a queued run waits for when no live worker can take it."""

from __future__ import annotations

from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine
from tests.conftest import definition, trigger_run
from tests.versions.support import pin, register, set_state


def worker(engine: Engine, worker_id: str, version: str, tasks: list[str]) -> None:
    """A live worker of ``version`` (registered as the supervisor does)."""
    engine.register_tasks("dev", [definition(t) for t in tasks])
    engine.register_worker("dev", worker_id, {"hostname": "h", "pid": 1, "version": "x",
                                              "queues": ["*"], "concurrency": 1})
    engine.register_version("dev", worker_id, version, [definition(t) for t in tasks],
                            source="worker")


def queued(engine: Engine, task: str = "t", **options: Any) -> dict[str, Any]:
    return engine.retrieve("dev", trigger_run(engine, task, **options).row["id"])


def test_with_no_worker_a_run_waits_for_one_with_its_task(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t")])
    assert queued(engine)["waiting_for"] == "a worker with task 't'"


def test_a_live_worker_of_the_current_version_with_the_task_takes_it(engine: Engine) -> None:
    worker(engine, "w1", "v1", ["t"])
    run = queued(engine)
    assert (run["status"], run["waiting_for"]) == ("QUEUED", None)


def test_unpinned_runs_wait_for_the_current_version_when_only_old_workers_live(
        engine: Engine) -> None:
    worker(engine, "w1", "v1", ["t"])
    register(engine, "v2", ["t"])  # deployed, none of its workers is up yet
    assert queued(engine)["waiting_for"] == "a worker of the current version v2"


def test_a_draining_worker_takes_the_tasks_the_current_version_lacks(engine: Engine) -> None:
    worker(engine, "w1", "v1", ["t", "old"])
    register(engine, "v2", ["t"])
    assert queued(engine, "old")["waiting_for"] is None


def test_a_retired_version_takes_no_unpinned_runs(engine: Engine) -> None:
    worker(engine, "w1", "v1", ["old"])
    register(engine, "v2", ["t"])
    set_state(engine, "v1", "retired")
    assert queued(engine, "old")["waiting_for"] == "a worker with task 'old'"


def test_a_pinned_run_waits_for_its_version(engine: Engine) -> None:
    worker(engine, "w2", "v2", ["t"])
    run_id = trigger_run(engine, "t").row["id"]
    pin(engine, run_id, "v1")
    assert engine.retrieve("dev", run_id)["waiting_for"] == "a worker of version v1"
    worker(engine, "w1", "v1", ["t"])
    assert engine.retrieve("dev", run_id)["waiting_for"] is None


def test_stopped_and_silent_workers_are_not_live(engine: Engine, clock: FakeClock) -> None:
    worker(engine, "w1", "v1", ["t"])
    worker(engine, "w2", "v1", ["t"])
    engine.stop_worker("w1")
    clock.advance(120)  # w2 stopped heartbeating
    assert queued(engine)["waiting_for"] == "a worker of the current version v1"


def test_only_queued_runs_wait(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t")])
    run_id = trigger_run(engine, "t").row["id"]
    engine.claim("dev", "w", None, 1)
    assert engine.retrieve("dev", run_id)["waiting_for"] is None
