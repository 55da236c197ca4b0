"""What a trigger announces, on both stores, once its run is committed: the run's queue
(idle workers wake), the run itself (realtime subscribers) and, for a TTL that ends soon,
the moment it ends (the upkeep holder). On PostgreSQL these travel in the statement that
writes the run, so a trigger alone, a batch and a trigger among other statements of one
transaction are each checked."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from outlast.core.options import TriggerOptions, parse_options
from outlast.engine import Engine, NewRun
from outlast.engine.announce import DUE_CHANNEL
from outlast.engine.events import (
    CHANGED_CHANNEL,
    CHANGED_NOTE_CHARS,
    QUEUED_CHANNEL,
    changed_ids,
)
from outlast.engine.triggering import LOAD_FROM, MAX_BATCH, trigger_many
from outlast.readiness import readable
from outlast.store import Listener
from outlast.store.protocol import ANY_CHANNEL

ENV = "dev"
CHANNELS = [QUEUED_CHANNEL, CHANGED_CHANNEL, DUE_CHANNEL]
Note = tuple[str, str]


@pytest.fixture(autouse=True)
def _tasks(engine: Engine, register: Any) -> None:
    register(engine, "job", "other")


@pytest.fixture
def listener(engine: Engine) -> Any:
    listening = engine.store.listen(CHANNELS)
    yield listening
    listening.close()


def _heard(listener: Listener, want: set[Note], seconds: float = 10.0) -> set[Note]:
    """What ``listener`` heard until it heard ``want`` (or the time ran out)."""
    heard: set[Note] = set()
    deadline = time.monotonic() + seconds
    while not want <= heard and (left := deadline - time.monotonic()) > 0:
        readable(listener.fileno(), left)
        heard |= set(listener.drain())
    return heard


def _request(task_id: str, engine: Engine, **options: Any) -> NewRun:
    return NewRun(task_id, json.dumps(None), parse_options(options, engine.clock.now()))


def test_a_trigger_announces_its_queue_its_run_and_a_ttl_ending_soon(
        engine: Engine, listener: Listener) -> None:
    row = engine.trigger(ENV, _request("job", engine, ttl=1, tags=["a", "b"])).row
    want = {(QUEUED_CHANNEL, "job"), (CHANGED_CHANNEL, row["id"]),
            (DUE_CHANNEL, repr(float(row["expires_at"])))}
    assert _heard(listener, want) >= want
    assert engine.retrieve(ENV, row["id"])["tags"] == ["a", "b"]
    assert [r["id"] for r in engine.list_runs(ENV, tag="b")[0]] == [row["id"]]


def _run_notes(notes: set[Note]) -> set[Note]:
    """Notes with each ``CHANGED_CHANNEL`` note's run ids apart, one note each."""
    return {(channel, run_id) for channel, payload in notes
            for run_id in (changed_ids(payload) if channel == CHANGED_CHANNEL else [payload])}


def _heard_runs(listener: Listener, want: set[Note], seconds: float = 10.0) -> set[Note]:
    """``_heard``, a note of several runs' ids counting as one per run."""
    heard: set[Note] = set()
    deadline = time.monotonic() + seconds
    while not want <= _run_notes(heard) and (left := deadline - time.monotonic()) > 0:
        readable(listener.fileno(), left)
        heard |= set(listener.drain())
    return heard


def test_a_batch_announces_every_run_and_queue(engine: Engine, listener: Listener) -> None:
    done = engine.trigger_batch(ENV, [_request("job", engine), _request("other", engine)])
    want = {(QUEUED_CHANNEL, "job"), (QUEUED_CHANNEL, "other")}
    want |= {(CHANGED_CHANNEL, t.row["id"]) for t in done}
    assert _run_notes(_heard_runs(listener, want)) >= want


@pytest.mark.parametrize("size", [LOAD_FROM - 1, MAX_BATCH])
def test_a_large_batch_announces_its_runs_in_a_few_notes(
        engine: Engine, listener: Listener, size: int) -> None:
    """The runs' ids, several to a note, each note under PostgreSQL's payload limit; the
    queue once. (SQLite may report a batch this large as ``ANY_CHANNEL`` instead: its
    datagrams are small, and a lost one means the same.)"""
    done = engine.trigger_batch(ENV, [_request("job", engine) for _ in range(size)])
    want = {(QUEUED_CHANNEL, "job")} | {(CHANGED_CHANNEL, t.row["id"]) for t in done}
    heard = _heard_runs(listener, want)
    if (ANY_CHANNEL, "") in heard:
        assert engine.store.dialect == "sqlite"
        return
    assert _run_notes(heard) >= want
    changed = [p for c, p in heard if c == CHANGED_CHANNEL]
    assert len(changed) <= size * 31 // CHANGED_NOTE_CHARS + 1
    assert max(len(p) for p in changed) <= CHANGED_NOTE_CHARS


def test_notes_of_the_same_transaction_before_and_after_a_trigger_all_arrive(
        engine: Engine, listener: Listener) -> None:
    """A trigger inside a longer transaction (one that read, and notifies besides)."""
    definition = engine.definition(ENV, "job")
    with engine.store.transaction() as tx:
        tx.notify(CHANGED_CHANNEL, "before")
        assert tx.one("ping") == {"ok": 1}
        [made] = trigger_many(tx, ENV, [(definition, _request("job", engine))],
                              engine.clock.now())
        tx.notify(CHANGED_CHANNEL, "after")
    want = {(CHANGED_CHANNEL, "before"), (CHANGED_CHANNEL, made.row["id"]),
            (QUEUED_CHANNEL, "job"), (CHANGED_CHANNEL, "after")}
    assert _heard(listener, want) >= want


def test_a_trigger_that_fails_announces_nothing_and_writes_nothing(
        engine: Engine, listener: Listener) -> None:
    heard: list[Note] = []
    engine.store.add_local_listener(lambda channel, payload: heard.append((channel, payload)))
    definition = engine.definition(ENV, "job")
    with pytest.raises(RuntimeError), engine.store.transaction() as tx:
        trigger_many(tx, ENV, [(definition, _request("job", engine))], engine.clock.now())
        raise RuntimeError("the caller changed its mind")
    engine.trigger(ENV, NewRun("other", "null", TriggerOptions()))  # heard after it, if at all
    assert (QUEUED_CHANNEL, "job") not in _heard(listener, {(QUEUED_CHANNEL, "other")})
    assert [r["task"] for r in engine.list_runs(ENV)[0]] == ["other"]
    assert (QUEUED_CHANNEL, "job") not in heard
