"""A worker's pass that only claims is one statement on PostgreSQL, committed as it ends:
one round trip from its wake-up to its runs, its notes sent once."""

from __future__ import annotations

import tempfile
import time
from typing import Any

import pytest

from outlast.engine import Engine, Outcome
from outlast.engine.events import CHANGED_CHANNEL
from outlast.store.postgres.store import PostgresStore


def _syncs(store: PostgresStore, engine: Engine, capacity: int,
           outcomes: list[Outcome] | None = None) -> tuple[int, list[str]]:
    """The Sync messages (one per round trip) the store's only connection sent during a
    pass, and the ids it claimed (libpq's protocol trace)."""
    with store.connection() as conn:  # the store's only one: the pass gets it next
        pass
    with tempfile.TemporaryFile("w+") as trace:
        conn.pgconn.trace(trace.fileno())
        try:
            _, claimed = engine.record_and_claim(outcomes or [], "dev", "w", None, capacity)
        finally:
            conn.pgconn.untrace()
        trace.seek(0)
        sent = [line.split("\t") for line in trace.read().splitlines()]
    return sum(1 for f in sent if len(f) > 3 and f[1] == "F" and f[3] == "Sync"), \
        [r["id"] for r in claimed.rows]


def test_a_claim_only_pass_is_one_round_trip(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    store, engine = pg_store, Engine(pg_store)
    register(engine, "t")
    run_ids = [trigger(engine, "t").row["id"] for _ in range(2)]
    first, [claimed] = _syncs(store, engine, 1)
    assert first <= 2  # the first use of the statement on a connection prepares it
    assert _syncs(store, engine, 1) == (1, [i for i in run_ids if i != claimed])
    assert _syncs(store, engine, 2) == (1, [])
    assert _syncs(store, engine, 0) == (0, [])  # nothing to record or claim: no trip
    assert {engine.retrieve("dev", i)["status"] for i in run_ids} == {"EXECUTING"}
    assert [a["status"] for i in run_ids for a in engine.attempts(i)] == ["EXECUTING"] * 2


def test_a_pass_that_records_and_claims_commits_with_its_claim(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    """The claim, the notes and ``COMMIT`` travel together: recording and claiming takes
    as many round trips as recording alone."""
    store, engine = pg_store, Engine(pg_store)
    register(engine, "t")
    for _ in range(6):
        trigger(engine, "t")
    _, claimed = engine.record_and_claim([], "dev", "w", None, 4)
    done = [Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed")
            for r in claimed.rows]
    _syncs(store, engine, 0, done[:1])  # each kind of pass once: statements prepared
    _syncs(store, engine, 1, done[1:2])
    recording = _syncs(store, engine, 0, done[2:3])[0]
    syncs, started = _syncs(store, engine, 1, done[3:4])
    assert syncs == recording and len(started) == 1
    assert {engine.retrieve("dev", r["id"])["status"] for r in claimed.rows} == \
        {"COMPLETED"}


def test_nothing_follows_a_statement_sent_alone(pg_store: PostgresStore) -> None:
    with pg_store.transaction() as tx:
        assert tx.alone("ping") == [{"ok": 1}]
        with pytest.raises(RuntimeError, match="committed"):
            tx.one("ping")
    with pg_store.transaction() as tx:  # the connection is back, idle
        assert tx.one("ping") == {"ok": 1}


def test_each_started_run_is_announced_once(
        pg_store: PostgresStore, register: Any, trigger: Any) -> None:
    """The statement sends each start's note itself: listeners elsewhere hear it once,
    and listeners in this process are told once too (not sent a second time)."""
    store = pg_store
    listener = store.listen([CHANGED_CHANNEL])
    heard_here: list[tuple[str, str]] = []
    store.add_local_listener(lambda channel, payload: heard_here.append((channel, payload)))
    try:
        engine = Engine(store)
        register(engine, "t")
        run_ids = sorted(trigger(engine, "t").row["id"] for _ in range(2))
        time.sleep(0.2)
        listener.drain()
        heard_here.clear()
        _, claimed = engine.record_and_claim([], "dev", "w", None, 5)
        assert sorted(r["id"] for r in claimed.rows) == run_ids
        heard: list[tuple[str, str]] = []
        deadline = time.monotonic() + 5
        while len(heard) < 2 and time.monotonic() < deadline:
            heard += listener.drain()
            time.sleep(0.01)
        time.sleep(0.2)
        heard += listener.drain()
        assert sorted(heard) == [(CHANGED_CHANNEL, i) for i in run_ids]
        assert sorted(n for n in heard_here if n[0] == CHANGED_CHANNEL) == \
            [(CHANGED_CHANNEL, i) for i in run_ids]
    finally:
        listener.close()
