"""Tags added after a run was triggered — by the run itself (``tags.add``) or from outside
(``engine.tags.add``) — on both stores: limits, no-ops, list filters and tag feeds."""

from __future__ import annotations

from typing import Any

import pytest

from outlast import DurableUsageError, ValidationError, tags, task
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.errors import InvalidTransitionError, RunNotFoundError
from outlast.sdk.registry import Registry

from .support import execute_one, register


def trigger(engine: Engine, task_id: str, **options: Any) -> str:
    return str(engine.trigger("dev", NewRun(task_id, "null", TriggerOptions(**options)))
               .row["id"])


def tag_events(engine: Engine, run_id: str) -> list[dict[str, Any]]:
    return [e for e in engine.events(run_id) if e["kind"] == "tags"]


def test_a_run_tags_itself_and_tag_subscribers_start_seeing_it(engine: Engine) -> None:
    reg = Registry()
    seen: dict[str, Any] = {}

    @task(id="labeller", registry=reg)
    def labeller(payload: Any) -> None:
        seen["first"] = tags.add("user:17", "plan:pro")
        seen["again"] = tags.add("user:17")  # already there: nothing happens
        try:
            tags.add(*[f"extra:{i}" for i in range(8)])  # 11 in all: refused, none added
        except ValidationError as exc:
            seen["error"] = str(exc)

    register(engine, reg)
    run_id = trigger(engine, "labeller", tags=["start"], priority=10)  # claimed first
    other = trigger(engine, "labeller")
    # a subscriber of "user:17" that has seen every event so far: no run carries it yet
    cursor_seen = int(engine.events(other)[-1]["id"])
    assert engine.realtime.tag_changes("dev", "user:17", 0) == []
    execute_one(engine, reg)

    assert seen["first"] == seen["again"] == ["start", "user:17", "plan:pro"]
    assert "limit of 10 tags" in seen["error"]
    run = engine.retrieve("dev", run_id)
    assert run["tags"] == ["start", "user:17", "plan:pro"]
    assert len(tag_events(engine, run_id)) == 1
    assert [r["id"] for r in engine.list_runs("dev", tag="plan:pro")[0]] == [run_id]
    changes = engine.realtime.tag_changes("dev", "user:17", cursor_seen)
    assert changes and {snap["id"] for _, snap in changes} == {run_id}
    assert changes[0][1]["tags"] == ["start", "user:17", "plan:pro"]


def test_outside_a_run_tags_add_says_so() -> None:
    with pytest.raises(DurableUsageError, match="inside a running task"):
        tags.add("x")


def test_tags_from_outside_check_limits_and_change_nothing_on_error(engine: Engine) -> None:
    reg = Registry()

    @task(id="plain", registry=reg)
    def plain(payload: Any) -> None:
        return None

    register(engine, reg)
    run_id = trigger(engine, "plain", tags=[f"t{i}" for i in range(9)])
    assert engine.tags.add("dev", run_id, ["t0", "t9"])[-1] == "t9"
    assert engine.tags.add("dev", run_id, "t3") == [f"t{i}" for i in range(10)]
    for bad in (["t10"], [""], ["x" * 129], [], [3], "", None):
        with pytest.raises(ValidationError):
            engine.tags.add("dev", run_id, bad)
    assert engine.retrieve("dev", run_id)["tags"] == [f"t{i}" for i in range(10)]
    assert len(tag_events(engine, run_id)) == 1
    with pytest.raises(RunNotFoundError):
        engine.tags.add("prod", run_id, ["x"])


def test_finished_runs_may_be_tagged_but_their_metadata_is_kept(engine: Engine) -> None:
    reg = Registry()

    @task(id="done", registry=reg)
    def done(payload: Any) -> None:
        return None

    register(engine, reg)
    run_id = trigger(engine, "done", metadata={"a": 1})
    assert engine.metadata.update("dev", run_id, [{"op": "increment", "key": "a",
                                                   "value": 1}]) == {"a": 2}
    execute_one(engine, reg)
    assert engine.tags.add("dev", run_id, ["reviewed"]) == ["reviewed"]
    with pytest.raises(InvalidTransitionError, match="finished run"):
        engine.metadata.update("dev", run_id, [{"op": "set", "key": "a", "value": 3}])
    assert engine.metadata.update("dev", run_id, []) == {"a": 2}  # reading is fine
    with pytest.raises(RunNotFoundError):
        engine.metadata.update("prod", run_id, [])
    events = [e for e in engine.events(run_id) if e["kind"] == "metadata"]
    assert [e["data"]["by"] for e in events] == ["api"]


def test_a_stale_lease_cannot_add_tags(engine: Engine) -> None:
    reg = Registry()

    @task(id="plain", registry=reg)
    def plain(payload: Any) -> None:
        return None

    register(engine, reg)
    run_id = trigger(engine, "plain")
    with pytest.raises(InvalidTransitionError):
        engine.tags.from_attempt(run_id, "lease_stale", ["x"])
    assert engine.retrieve("dev", run_id)["tags"] == []
