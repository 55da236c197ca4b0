"""``metadata.parent`` / ``metadata.root`` from running children, on both stores: progress
rolls up to the parent and the root, subscribers of those runs see it, and a child can
reach no other run."""

from __future__ import annotations

from typing import Any

import pytest

from outlast import PayloadTooLargeError, metadata, task
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.errors import InvalidTransitionError, ValidationError
from outlast.sdk.registry import Registry
from outlast.worker.messages import LogBatch

from .support import execute_one, register


def trigger(engine: Engine, task_id: str, **options: Any) -> str:
    return str(engine.trigger("dev", NewRun(task_id, "null", TriggerOptions(**options)))
               .row["id"])


def run_all(engine: Engine, reg: Registry, sent: list[Any] | None = None) -> None:
    for _ in range(20):
        if execute_one(engine, reg, sent=sent) is None:
            return
    raise AssertionError("runs kept coming")


def metadata_events(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    return [e for e in engine.events(run_id) if e["kind"] == "metadata"]


def family(reg: Registry) -> None:
    """root → middle → two leaves; every leaf reports to its parent and to the root."""

    @task(id="leaf", registry=reg)
    def leaf(payload: Any) -> str:
        metadata.parent.increment("leaves_done")
        metadata.parent.append("finished", payload)
        metadata.root.increment("total_done")
        metadata.root.update({"last": payload})
        metadata.set("mine", True)
        return "leaf"

    @task(id="middle", registry=reg)
    def middle(payload: Any) -> str:
        leaf.batch_trigger_and_wait([{"payload": "a"}, {"payload": "b"}])
        metadata.parent.increment("middles_done")  # the root is also the parent here
        metadata.root.set("middle", "done")
        return "middle"

    @task(id="root", registry=reg)
    def root(payload: Any) -> str:
        metadata.set("started", True)
        middle.trigger_and_wait(None)
        return "root"


def test_children_roll_progress_up_to_parent_and_root(engine: Engine) -> None:
    reg = Registry()
    family(reg)
    register(engine, reg)
    root_id = trigger(engine, "root", metadata={"total_done": 0})
    cursor = 0
    run_all(engine, reg)

    root = engine.retrieve("dev", root_id)
    [middle] = engine.list_runs("dev", parent_id=root_id)[0]
    leaves, _ = engine.list_runs("dev", parent_id=middle["id"])
    assert root["status"] == middle["status"] == "COMPLETED"
    assert root["metadata"] == {"started": True, "total_done": 2, "last": root["metadata"]["last"],
                                "middles_done": 1, "middle": "done"}
    assert root["metadata"]["last"] in ("a", "b")
    assert middle["metadata"]["leaves_done"] == 2
    assert sorted(middle["metadata"]["finished"]) == ["a", "b"]
    assert all(leaf["metadata"] == {"mine": True} for leaf in leaves)
    # every write to another run is on that run's timeline, naming the writer
    writers = {e["data"].get("by") for e in metadata_events(engine, root_id)}
    assert writers == {None, middle["id"], *(leaf["id"] for leaf in leaves)}
    # realtime feeds of the root (what SSE subscribers read) carry the rolled-up values
    snapshot, cursor, final = engine.realtime.run_changes("dev", root_id, cursor)
    assert snapshot is not None and snapshot["metadata"]["total_done"] == 2 and final


def test_without_a_parent_parent_and_root_are_the_run_itself(engine: Engine) -> None:
    reg = Registry()
    seen: dict[str, Any] = {}

    @task(id="alone", registry=reg)
    def alone(payload: Any) -> None:
        metadata.parent.set("via", "parent")
        metadata.root.increment("n", 2)
        metadata.root.decrement("n")
        metadata.parent.append("log", 1)
        metadata.parent.delete("gone")
        seen["current"] = metadata.current()  # the cache follows writes through parent/root

    register(engine, reg)
    run_id = trigger(engine, "alone", metadata={"gone": 1})
    execute_one(engine, reg)
    expected = {"via": "parent", "n": 1, "log": [1]}
    assert engine.retrieve("dev", run_id)["metadata"] == expected == seen["current"]
    assert len(metadata_events(engine, run_id)) == 5


def test_a_finished_parent_is_left_alone_and_the_child_still_completes(
        engine: Engine) -> None:
    reg = Registry()

    @task(id="late-child", registry=reg)
    def late_child(payload: Any) -> str:
        metadata.parent.set("late", True)
        return "ok"

    @task(id="quick-parent", registry=reg)
    def quick_parent(payload: Any) -> str:
        late_child.trigger(None)  # not waited for: the parent finishes first
        return "done"

    register(engine, reg)
    parent_id = trigger(engine, "quick-parent", metadata={"kept": 1})
    sent: list[Any] = []
    run_all(engine, reg, sent)
    [child] = engine.list_runs("dev", parent_id=parent_id)[0]
    parent = engine.retrieve("dev", parent_id)
    assert parent["status"] == child["status"] == "COMPLETED"
    assert parent["metadata"] == {"kept": 1}
    assert metadata_events(engine, parent_id) == []
    warnings = [r for m in sent if isinstance(m, LogBatch) and m.run_id == child["id"]
                for r in m.records if r["level"] == "WARNING"]
    assert warnings and "has finished" in warnings[0]["message"]


def test_the_256_kb_limit_is_the_parents(engine: Engine) -> None:
    reg = Registry()
    errors: list[str] = []

    @task(id="filler", registry=reg)
    def filler(payload: Any) -> None:
        metadata.set("own", "y" * 100_000)  # the child's own document is small: fine
        try:
            metadata.parent.set("more", "y" * 100_000)
        except PayloadTooLargeError as exc:
            errors.append(str(exc))

    @task(id="full-parent", registry=reg)
    def full_parent(payload: Any) -> None:
        filler.trigger_and_wait(None)

    register(engine, reg)
    parent_id = trigger(engine, "full-parent", metadata={"blob": "x" * 200_000})
    run_all(engine, reg)
    assert errors and "256 KB" in errors[0]
    assert engine.retrieve("dev", parent_id)["metadata"] == {"blob": "x" * 200_000}


def claimed_child(engine: Engine, reg: Registry) -> tuple[str, dict[str, Any]]:
    """A parent waiting on a child that a worker has just claimed (not run)."""

    @task(id="kid", registry=reg)
    def kid(payload: Any) -> None:
        return None

    @task(id="mom", registry=reg)
    def mom(payload: Any) -> None:
        kid.trigger_and_wait(None)

    register(engine, reg)
    parent_id = trigger(engine, "mom")
    execute_one(engine, reg)
    [row] = engine.claim("dev", "w", None, 1)
    assert row["parent_id"] == parent_id
    return parent_id, dict(row)


def test_writes_are_fenced_by_the_callers_lease(engine: Engine) -> None:
    parent_id, child = claimed_child(engine, Registry())
    op = [{"op": "set", "key": "k", "value": 1}]
    with pytest.raises(InvalidTransitionError):
        engine.metadata.from_attempt(child["id"], "lease_stale", op, "parent")
    # a child's lease does not open another run: not the parent's own row either
    with pytest.raises(InvalidTransitionError):
        engine.metadata.from_attempt(parent_id, child["lease_id"], op, "self")
    with pytest.raises(ValidationError, match="target"):
        engine.metadata.from_attempt(child["id"], child["lease_id"], op, parent_id)
    assert engine.retrieve("dev", parent_id)["metadata"] == {}
    done = engine.metadata.from_attempt(child["id"], child["lease_id"], op, "parent")
    assert (done.run_id, done.metadata, done.applied) == (parent_id, {"k": 1}, True)
    assert engine.retrieve("dev", child["id"])["metadata"] == {}


def test_a_running_task_reads_what_others_wrote_to_its_metadata(engine: Engine) -> None:
    """Children and callers outside the run change its metadata while it runs: a read in
    the task sees their writes, not a copy of its own last write."""
    reg = Registry()
    seen: dict[str, Any] = {}

    @task(id="watched", registry=reg)
    def watched(payload: Any) -> None:
        metadata.set("mine", 1)
        run_id = seen["run_id"]
        engine.metadata.update("dev", run_id, [{"op": "set", "key": "theirs", "value": 2}])
        seen["get"] = metadata.get("theirs")
        seen["current"] = metadata.current()

    register(engine, reg)
    seen["run_id"] = trigger(engine, "watched")
    execute_one(engine, reg)
    assert seen["get"] == 2 and seen["current"] == {"mine": 1, "theirs": 2}
