"""Runs loaded in bulk share one ``created`` event (migration 0033), on both stores.

What a user sees must not change: every run's timeline starts with its ``created`` event,
pages of events never repeat it, a realtime subscriber gets the new run's snapshot, and
the environment's feed moves when a batch arrives. Only the rows behind it differ: the
load's queued untagged runs hold one event id taken for them, and only the first of them
has a ``created`` row, written as the load ends.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from outlast.core.options import TriggerOptions, parse_options
from outlast.engine import Engine, NewRun, triggering
from outlast.engine.triggering import LOAD_FROM, PlainBatch

from .support import outcome

ENV = "dev"


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, "job")


def _plain_batch(engine: Engine, size: int = LOAD_FROM, **options: Any) -> list[str]:
    """A batch as the API's ``batch_trigger`` writes it: one task, shared options."""
    batch = PlainBatch("job", parse_options(options, 0), list(range(size)), json.dumps)
    return [t.row["id"] for t in engine.trigger_batch(ENV, batch)]


def _own_created_rows(engine: Engine, run_ids: list[str]) -> int:
    """How many of the runs have a ``created`` row of their own in run_events."""
    with engine.store.transaction(write=False) as tx:
        return sum(int((tx.one("count_events_of_kind", run_id=run_id, kind="created")
                        or {"n": 0})["n"]) for run_id in run_ids)


def test_a_loaded_batch_writes_one_created_row_and_every_run_shows_its_event(
        engine: Engine) -> None:
    ids = _plain_batch(engine)
    assert _own_created_rows(engine, ids) == 1 == _own_created_rows(engine, ids[:1])
    shared = engine.events(ids[1])[0]["id"]
    for run_id in ids:
        run = engine.retrieve(ENV, run_id)
        [created] = engine.events(run_id)
        assert (created["kind"], created["status"]) == ("created", "QUEUED")
        assert created["id"] == shared if run_id != ids[0] else created["id"] >= shared
        assert (created["run_id"], created["at"]) == (run_id, run["created_at"])
        assert created["attempt"] is None and created["data"] == {}


def test_a_loaded_run_pages_its_events_from_its_created_one(engine: Engine) -> None:
    """The shared event sorts before the run's later events; a page after it does not
    give it again, so a client that pages by the last id ends."""
    ids = _plain_batch(engine)
    run_id = ids[7]
    [created] = engine.events(run_id)
    assert engine.events(run_id, after=created["id"]) == []
    row = {r["id"]: r for r in engine.claim(ENV, "w", None, LOAD_FROM)}[run_id]
    engine.record([outcome(row, output={"ok": True}, machine="small-1x")])
    events = engine.events(run_id)
    assert [e["kind"] for e in events] == ["created", "start_attempt", "complete"]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert [e["kind"] for e in engine.events(run_id, after=created["id"])] == [
        "start_attempt", "complete"]
    assert [e["kind"] for e in engine.events(run_id, limit=1)] == ["created"]
    assert engine.retrieve(ENV, run_id)["status"] == "COMPLETED"
    trace = engine.trace_records(ENV, run_id)  # the run page's timeline
    assert [e["kind"] for e in trace.events] == ["created", "start_attempt", "complete"]


def test_a_realtime_subscriber_gets_a_loaded_run_and_the_feed_moves(engine: Engine) -> None:
    realtime = engine.realtime
    before = realtime.newest_event()
    ids = _plain_batch(engine)
    shared = engine.events(ids[-1])[0]["id"]
    assert shared > before
    # the environment's feed moves, to the first run's own row
    assert realtime.env_changes(ENV, before) == engine.events(ids[0])[0]["id"]
    snapshot, cursor, final = realtime.run_changes(ENV, ids[-1], 0)
    assert snapshot is not None and snapshot["id"] == ids[-1] and snapshot["status"] == "QUEUED"
    assert (cursor, final) == (shared, False)
    assert realtime.run_changes(ENV, ids[-1], cursor) == (None, shared, False)


def test_the_feed_moves_for_a_load_that_ends_after_a_later_trigger(engine: Engine) -> None:
    """A run triggered and committed while a load streams takes an event id above the
    one the load took for its runs; a feed that moved to it still moves for the load,
    whose first run's row is written as the load ends."""
    if engine.store.serial_writes:
        pytest.skip("SQLite takes one writer at a time: nothing commits during a load")
    realtime = engine.realtime
    streaming, go_on = threading.Event(), threading.Event()

    def checked(payload: Any) -> str:
        if payload == LOAD_FROM - 1:  # the load's first rows are in: hold its last
            streaming.set()
            go_on.wait(10)
        return json.dumps(payload)

    batch = PlainBatch("job", TriggerOptions(), list(range(LOAD_FROM)), checked)
    load = threading.Thread(target=engine.trigger_batch, args=(ENV, batch))
    load.start()
    try:
        assert streaming.wait(10)
        later = engine.trigger(ENV, NewRun("job", "2", TriggerOptions())).row["id"]
        cursor = realtime.env_changes(ENV, 0)
        assert cursor == engine.events(later)[0]["id"]
    finally:
        go_on.set()
        load.join(10)
    loaded = [r["id"] for r in engine.list_runs(ENV, limit=1000)[0] if r["id"] != later]
    assert len(loaded) == LOAD_FROM
    assert min(engine.events(run_id)[0]["id"] for run_id in loaded) < cursor
    assert realtime.env_changes(ENV, cursor) > cursor


def test_a_parent_page_moves_for_children_loaded_after_an_older_child_moved(
        engine: Engine, register: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent's trace mark reads its children's newest event: an older child that
    starts while new children load must not hide them once they commit."""
    if engine.store.serial_writes:
        pytest.skip("SQLite takes one writer at a time: nothing commits during a load")
    register(engine, "child")
    parent = engine.trigger(ENV, NewRun("job", "0", TriggerOptions())).row["id"]
    engine.trigger(ENV, NewRun("child", "0", TriggerOptions(), parent_id=parent))
    items = [NewRun("child", json.dumps(i), TriggerOptions(), parent_id=parent)
             for i in range(LOAD_FROM)]
    streaming, go_on = threading.Event(), threading.Event()
    own_values = triggering._own_values

    def held(row: dict[str, Any], req: NewRun, blobs: Any) -> None:
        if req is items[-1]:  # the load's first rows are in: hold its last
            streaming.set()
            go_on.wait(10)
        own_values(row, req, blobs)

    monkeypatch.setattr(triggering, "_own_values", held)
    load = threading.Thread(target=engine.trigger_batch, args=(ENV, items))
    load.start()
    try:
        assert streaming.wait(10)
        assert len(engine.claim(ENV, "w", ["child"], 1)) == 1  # the older child starts
        mark = engine.realtime.trace_mark(parent)
    finally:
        go_on.set()
        load.join(10)
    assert len(engine.list_runs(ENV, parent_id=parent, limit=1000)[0]) == LOAD_FROM + 1
    assert engine.realtime.trace_mark(parent) != mark


def test_tagged_and_delayed_runs_of_a_load_keep_their_own_created_rows(
        engine: Engine, clock: Any) -> None:
    """A delayed run's event says DELAYED; a tagged one's is how the tag's realtime feed
    finds it. Runs of the same load without either share the load's."""
    plain = TriggerOptions()
    tagged = parse_options({"tags": ["vip"]}, 0)
    delayed = parse_options({"delay": clock.now() + 600}, 0)
    kinds = [plain, tagged, delayed] * (LOAD_FROM // 3 + 1)
    results = engine.trigger_batch(ENV, [NewRun("job", json.dumps(i), options)
                                         for i, options in enumerate(kinds)])
    ids = [r.row["id"] for r in results]
    by_kind = {name: ids[i::3] for i, name in enumerate(("plain", "tagged", "delayed"))}
    assert _own_created_rows(engine, by_kind["plain"]) == 1
    assert _own_created_rows(engine, by_kind["tagged"]) == len(by_kind["tagged"])
    assert _own_created_rows(engine, by_kind["delayed"]) == len(by_kind["delayed"])
    for name, status in (("plain", "QUEUED"), ("tagged", "QUEUED"), ("delayed", "DELAYED")):
        for run_id in by_kind[name]:
            assert [(e["kind"], e["status"]) for e in engine.events(run_id)] == [
                ("created", status)]
    found = engine.realtime.tag_changes(ENV, "vip", 0)
    assert sorted(run["id"] for _, run in found) == sorted(by_kind["tagged"])
    since_first = engine.realtime.tag_changes(ENV, "vip", 1)  # read by event, not latest
    assert {run["id"] for _, run in since_first} == set(by_kind["tagged"])


def test_a_few_runs_each_have_their_own_created_row(engine: Engine) -> None:
    ids = _plain_batch(engine, LOAD_FROM - 1)
    assert _own_created_rows(engine, ids) == len(ids)
    assert [[e["kind"] for e in engine.events(run_id)] for run_id in ids[:3]] == [
        ["created"]] * 3


def test_a_failed_load_leaves_no_shared_event(engine: Engine) -> None:
    """A payload that fails mid-batch undoes the whole load: no run, no event row."""
    newest = engine.realtime.newest_event()

    def checked(payload: Any) -> str:
        if payload == LOAD_FROM - 3:
            raise ValueError("not this one")
        return json.dumps(payload)

    batch = PlainBatch("job", TriggerOptions(), list(range(LOAD_FROM)), checked)
    with pytest.raises(ValueError, match="not this one"):
        engine.trigger_batch(ENV, batch)
    assert engine.realtime.newest_event() == newest
    assert engine.list_runs(ENV)[0] == []
