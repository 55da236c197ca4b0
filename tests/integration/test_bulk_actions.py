"""Bulk actions on both stores: a filter's runs are snapshotted, then acted on in batches
whose progress is recorded; abort stops it between batches; a fresh upkeep holder goes on
from where a stopped one left off, acting on no run twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from outlast.engine import Engine, bulk_work
from outlast.errors import NotFoundError, ValidationError
from outlast.upkeep.bulk import BulkRunner

from .support import outcome, status_of


def _runs(engine: Engine, trigger: Callable[..., Any], task: str, n: int) -> list[str]:
    return [trigger(engine, task, {"i": i}).row["id"] for i in range(n)]


def _steps(engine: Engine, action_id: str, n: int, batch_size: int) -> dict[str, Any]:
    for _ in range(n):
        [row] = [r for r in bulk_work.active(engine) if r["id"] == action_id]
        bulk_work.step(engine, row, batch_size)
    return engine.bulk.get("dev", action_id)


def test_cancel_by_filter_counts_live_canceled_and_final_skipped(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a", "b")
    live = _runs(engine, trigger, "a", 5)
    done = _runs(engine, trigger, "a", 2)
    for run_id in done:
        engine.cancel("dev", run_id)
    other = _runs(engine, trigger, "b", 3)
    created = engine.bulk.create("dev", "cancel", wanted={"task": "a"})
    assert created["status"] == "PENDING" and created["id"].startswith("bulk_")
    assert created["filter"] == {"task": "a"}

    bulk_work.run_to_end(engine, batch_size=3)

    action = engine.bulk.get("dev", created["id"])
    assert action["status"] == "COMPLETED" and action["is_final"]
    assert (action["total"], action["processed"], action["succeeded"], action["skipped"],
            action["failed"]) == (7, 7, 5, 2, 0)
    assert action["errors"] == [] and action["finished_at"] is not None
    assert {status_of(engine, r) for r in live + done} == {"CANCELED"}
    assert {status_of(engine, r) for r in other} == {"QUEUED"}


def test_cancel_skips_a_run_that_finished_after_the_snapshot(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a")
    [first, second] = _runs(engine, trigger, "a", 2)
    created = engine.bulk.create("dev", "cancel", wanted={"status": ["QUEUED"]})
    _steps(engine, created["id"], 2, 10)  # started, snapshot taken
    [claimed] = engine.claim("dev", "w1", None, 1)
    engine.record([outcome(claimed, output=1)])
    bulk_work.run_to_end(engine)
    action = engine.bulk.get("dev", created["id"])
    assert (action["total"], action["succeeded"], action["skipped"]) == (2, 1, 1)
    assert sorted(status_of(engine, r) for r in (first, second)) == ["CANCELED", "COMPLETED"]


def test_progress_is_recorded_after_each_batch(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a")
    ids = sorted(_runs(engine, trigger, "a", 5))
    created = engine.bulk.create("dev", "cancel", wanted={"task": "a"})
    started = _steps(engine, created["id"], 1, 2)
    assert started["status"] == "RUNNING" and started["phase"] == "snapshot"
    snapped = _steps(engine, created["id"], 1, 2)
    assert (snapped["phase"], snapped["total"], snapped["processed"]) == ("process", 5, 0)
    one = _steps(engine, created["id"], 1, 2)
    assert (one["processed"], one["succeeded"]) == (2, 2)
    assert [status_of(engine, r) for r in ids] == ["CANCELED"] * 2 + ["QUEUED"] * 3


def test_abort_midway_stops_after_the_batch_in_flight(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a")
    ids = sorted(_runs(engine, trigger, "a", 6))
    created = engine.bulk.create("dev", "cancel", wanted={"task": "a"})
    _steps(engine, created["id"], 3, 2)
    aborted = engine.bulk.abort("dev", created["id"])
    assert aborted["status"] == "ABORTED" and aborted["processed"] == 2
    assert bulk_work.run_to_end(engine) == 0
    assert [status_of(engine, r) for r in ids] == ["CANCELED"] * 2 + ["QUEUED"] * 4
    assert engine.bulk.abort("dev", created["id"])["status"] == "ABORTED"  # answered as is


def test_a_batch_written_after_an_abort_is_rolled_back(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    """The holder read the record before the abort: its batch's guarded write finds no
    RUNNING row, so the runs it canceled in that transaction are not canceled."""
    register(engine, "a")
    ids = _runs(engine, trigger, "a", 3)
    created = engine.bulk.create("dev", "cancel", wanted={"task": "a"})
    _steps(engine, created["id"], 2, 10)
    [stale] = bulk_work.active(engine)
    engine.bulk.abort("dev", created["id"])
    assert bulk_work.step(engine, stale, 10) is False
    assert {status_of(engine, r) for r in ids} == {"QUEUED"}
    assert engine.bulk.get("dev", created["id"])["processed"] == 0


def test_replay_by_filter_resumes_after_a_restart_without_doubling(
        engine: Engine, store_url: str, register: Callable[..., Any],
        trigger: Callable[..., Any], clock: Any) -> None:
    """A RUNNING action left with its cursor midway (the holder's process stopped) is
    finished by a fresh upkeep holder on its own engine; every run is replayed once."""
    from outlast.store import open_store

    register(engine, "a")
    originals = set(_runs(engine, trigger, "a", 5))
    created = engine.bulk.create("dev", "replay", wanted={"task": "a"})
    midway = _steps(engine, created["id"], 3, 2)
    assert (midway["status"], midway["processed"]) == ("RUNNING", 2)

    fresh_store = open_store(store_url)
    try:
        fresh = Engine(fresh_store, clock=clock)
        runner = BulkRunner(fresh, lambda: True, batch_size=2)
        while runner.step_all():
            pass
        action = fresh.bulk.get("dev", created["id"])
        runs, _ = fresh.list_runs("dev", task="a", limit=100)
    finally:
        fresh_store.close()
    assert (action["status"], action["total"], action["succeeded"]) == ("COMPLETED", 5, 5)
    replays = [r for r in runs if r["replayed_from"] is not None]
    assert sorted(r["replayed_from"] for r in replays) == sorted(originals)
    assert {r["status"] for r in replays} == {"QUEUED"}


def test_replay_with_a_new_payload_and_an_unknown_run_id(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a")
    [run_id] = _runs(engine, trigger, "a", 1)
    created = engine.bulk.create("dev", "replay", run_ids=[run_id, "run_missing"],
                                 payload_json='{"new": true}')
    assert (created["phase"], created["total"]) == ("process", 2)
    bulk_work.run_to_end(engine)
    action = engine.bulk.get("dev", created["id"])
    assert (action["succeeded"], action["failed"]) == (1, 1)
    assert action["errors"] == [{"run_id": "run_missing",
                                 "message": "no run 'run_missing' in environment 'dev'"}]
    runs, _ = engine.list_runs("dev", task="a", limit=10)
    [replay] = [r for r in runs if r["replayed_from"] == run_id]
    assert replay["payload"] == {"new": True}


def test_an_action_sees_only_its_environment(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, "a")
    register(engine, "a", env="prod")
    mine = _runs(engine, trigger, "a", 2)
    theirs = trigger(engine, "a", None, env="prod").row["id"]
    created = engine.bulk.create("dev", "cancel", run_ids=[*mine, theirs])
    bulk_work.run_to_end(engine)
    assert engine.bulk.get("dev", created["id"])["failed"] == 1
    assert status_of(engine, theirs, env="prod") == "QUEUED"
    with pytest.raises(NotFoundError):
        engine.bulk.get("prod", created["id"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"wanted": {"status": ["DONE"]}}, "unknown status"),
    ({"wanted": {"colour": "red"}}, "unknown filter"),
    ({}, "either a filter or run_ids"),
    ({"wanted": {}, "run_ids": ["run_x"]}, "either a filter or run_ids"),
    ({"run_ids": []}, "non-empty list"),
    ({"wanted": {}, "payload_json": "1"}, "only a replay"),
])
def test_bad_requests_are_refused_before_anything_is_written(
        engine: Engine, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        engine.bulk.create("dev", "cancel", **kwargs)
    with pytest.raises(ValidationError, match="action must be"):
        engine.bulk.create("dev", "delete", wanted={})
    assert engine.bulk.list("dev") == ([], None)


def test_count_and_list(engine: Engine, register: Callable[..., Any],
                        trigger: Callable[..., Any]) -> None:
    register(engine, "a", "b")
    _runs(engine, trigger, "a", 3)
    _runs(engine, trigger, "b", 1)
    assert engine.bulk.count("dev", {"task": "a"}) == 3
    assert engine.bulk.count("dev", {}, at_most=2) == 2
    first = engine.bulk.create("dev", "cancel", wanted={"task": "b"})
    second = engine.bulk.create("dev", "replay", wanted={"task": "a"})
    page, cursor = engine.bulk.list("dev", limit=1)
    assert cursor is not None
    rest, end = engine.bulk.list("dev", limit=1, cursor=cursor)
    assert {a["id"] for a in page + rest} == {first["id"], second["id"]} and end is None


def test_a_batch_that_fails_is_done_again_one_run_at_a_time(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """One run the trigger refuses (a fault injected for its payload) rolls its batch back;
    done again run by run, the others are replayed once each and it alone fails."""
    register(engine, "a")
    ids = _runs(engine, trigger, "a", 3)
    real = bulk_work.trigger_many

    def refusing(tx: Any, env: str, items: Any, now: float) -> Any:
        if items[0][1].payload_json == '{"i": 1}':
            raise ValidationError("refused for the test")
        return real(tx, env, items, now)

    monkeypatch.setattr(bulk_work, "trigger_many", refusing)
    created = engine.bulk.create("dev", "replay", wanted={"task": "a"})
    bulk_work.run_to_end(engine, batch_size=10)
    action = engine.bulk.get("dev", created["id"])
    assert (action["status"], action["succeeded"], action["failed"]) == ("COMPLETED", 2, 1)
    assert action["errors"] == [{"run_id": ids[1],
                                 "message": "refused for the test"}]
    runs, _ = engine.list_runs("dev", task="a", limit=100)
    replayed = sorted(r["replayed_from"] for r in runs if r["replayed_from"])
    assert replayed == sorted([ids[0], ids[2]])
