"""Under ``outlast dev`` a reload's version takes the runs of earlier reloads along, on both
stores: unfinished runs of any status follow (a ``move_version`` event says "reloaded"),
runs of versions that are not dev reloads and finished runs stay where they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.engine import Engine
from tests.versions.support import execute, pin, register


def version_of(engine: Engine, run_id: str) -> Any:
    return engine.retrieve("dev", run_id)["version"]


def test_a_reload_takes_the_runs_of_earlier_reloads_along(
        engine: Engine, trigger: Callable[..., Any]) -> None:
    register(engine, "dev-1", ["a"], source="dev")
    register(engine, "w-1", ["a"], source="worker", promote=False)
    runs = {name: trigger(engine, "a").row["id"]
            for name in ("queued", "waiting", "executing", "parked", "done", "worker")}
    for name, run_id in runs.items():
        pin(engine, run_id, "w-1" if name == "worker" else "dev-1")
    for name, status in (("waiting", "WAITING"), ("executing", "EXECUTING"),
                         ("parked", "PARKED"), ("done", "COMPLETED")):
        execute(engine, f"UPDATE runs SET status = '{status}' WHERE id = '{runs[name]}'")
    engine.register_worker("dev", "w", {"hostname": "h", "pid": 1, "version": "x",
                                        "queues": ["*"], "concurrency": 1})

    engine.register_version("dev", "w", "dev-2", [], source="dev")

    after = {name: version_of(engine, run_id) for name, run_id in runs.items()}
    assert after == {"queued": "dev-2", "waiting": "dev-2", "executing": "dev-2",
                     "parked": "dev-2", "done": "dev-1", "worker": "w-1"}
    [event] = [e for e in engine.events(runs["waiting"]) if e["kind"] == "move_version"]
    assert (event["status"], event["data"]) == (
        "WAITING", {"version": "dev-2", "previous": "dev-1", "reason": "reloaded"})


def test_a_worker_registering_takes_no_run_along(engine: Engine,
                                                 trigger: Callable[..., Any]) -> None:
    register(engine, "dev-1", ["a"], source="dev")
    run_id = trigger(engine, "a").row["id"]
    pin(engine, run_id, "dev-1")
    engine.register_worker("dev", "w", {"hostname": "h", "pid": 1, "version": "x",
                                        "queues": ["*"], "concurrency": 1})
    engine.register_version("dev", "w", "w-2", [], source="worker")
    assert version_of(engine, run_id) == "dev-1"
