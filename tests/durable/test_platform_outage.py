"""The database's outage is not the task's failure (on both stores, with real faults).

A task with ``max_attempts=1`` makes durable calls while the database is unavailable:
SQLite held by another connection's exclusive lock past a short busy timeout, or
PostgreSQL statements in flight terminated by ``pg_terminate_backend`` (what a restart
does to them) again and again. The worker retries the calls; the task never sees an
error, and its attempt is never charged: it completes once the database is back, or (an
outage longer than the lease allows) is handed back and completes on its next claim.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

import tests.worker.support as worker_support
from outlast.engine import Engine
from outlast.store import Store
from outlast.store.faults import is_transient
from outlast.store.open import open_store
from outlast.store.sqlite.store import SQLiteStore
from outlast.worker.supervisor import Supervisor
from tests.conftest import PG_ADMIN_URL
from tests.eventually import eventually
from tests.worker.support import trigger

PROJECT = Path(__file__).parent / "project"
#: short enough for a test, long enough that heartbeats keep the run through the outage
LEASE = 9.0


class ShortBusySQLite(SQLiteStore):
    """The real SQLite store, giving up on a locked database after 0.2 s instead of 60."""

    def _connect(self) -> sqlite3.Connection:
        conn = super()._connect()
        conn.execute("PRAGMA busy_timeout=200")
        return conn


@pytest.fixture
def outage_store(store_url: str) -> Iterator[Store]:
    store = ShortBusySQLite(store_url) if store_url.startswith("sqlite") \
        else open_store(store_url)
    yield store
    store.close()


@contextmanager
def outage(store_url: str, run_id: str) -> Iterator[None]:
    """The database unavailable to the worker until the block ends."""
    if store_url.startswith("sqlite"):
        holder = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # every write elsewhere: "database is locked"
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with _terminating(store_url, run_id):
        yield


@contextmanager
def _terminating(url: str, run_id: str) -> Iterator[None]:
    """PostgreSQL: every statement that touches the run is terminated in flight.

    A lock on the run's row holds such statements in flight (the run's lease check, its
    heartbeat and outcome all lock it) until a killer ends their backends, as a server
    restart ends every statement it finds running.
    """
    holder = psycopg.connect(url)
    holder.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", (run_id,))
    stop = threading.Event()

    def kill() -> None:
        with psycopg.connect(url, autocommit=True) as killer:
            while not stop.is_set():
                killer.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                    "AND pid <> %s", (holder.info.backend_pid,))
                time.sleep(0.05)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
        holder.rollback()
        holder.close()


@contextmanager
def refusing(url: str) -> Iterator[None]:
    """PostgreSQL: this test's database refuses connections and drops the ones it has,
    as a server does while it restarts (the cluster and other databases are untouched)."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    database = psycopg.sql.Identifier(str(name))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false")
                      .format(database))
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            yield
        finally:
            admin.execute(psycopg.sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true")
                          .format(database))


@contextmanager
def worker(store: Store, lease: float = LEASE) -> Iterator[tuple[Engine, Supervisor]]:
    engine = Engine(store, lease_seconds=lease)
    with worker_support.running_worker(engine, 1, root=PROJECT, probe="dw-outage") as sup:
        yield engine, sup


def executing(engine: Engine, run_id: str) -> None:
    eventually(lambda: engine.retrieve("dev", run_id)["status"] == "EXECUTING", 30, "the start")


def started(engine: Engine, run_id: str, tmp_path: Path) -> Path:
    """Wait until the run recorded its first step; the file that lets it go on."""
    eventually(lambda: len(engine.durable.run_journal(run_id)) == 1, 30, "the first step")
    return tmp_path / "go"


def final_after_outage(engine: Engine, run_id: str) -> dict[str, Any]:
    """The run once final; the pool may take a few seconds to connect again first."""
    seen: dict[str, Any] = {}

    def final() -> bool:
        try:
            seen["run"] = engine.retrieve("dev", run_id)
        except Exception as exc:
            if not is_transient(exc):
                raise
            return False
        return bool(seen["run"]["is_final"])

    eventually(final, 90, f"run {run_id} to finish")
    return seen["run"]


def assert_completed_uncharged(engine: Engine, run_id: str) -> None:
    run = final_after_outage(engine, run_id)
    assert run["output"] == {"first": "before", "second": "during"}, run
    assert run["status"] == "COMPLETED"
    assert run["attempts"] == 1  # the outage charged nothing
    assert run["metadata"] == {"phase": "during"}
    assert [e["name"] for e in engine.durable.run_journal(run_id)] == ["before", "during"]


def test_a_durable_call_rides_out_a_database_outage(store_url: str, outage_store: Store,
                                                    tmp_path: Path) -> None:
    with worker(outage_store) as (engine, sup):
        run_id = trigger(engine, "dw-outage", {"go": str(tmp_path / "go")})
        go = started(engine, run_id, tmp_path)
        with outage(store_url, run_id):
            go.touch()
            eventually(lambda: sup.calls.faults.failing(run_id), 30, "a call to meet the fault")
        assert_completed_uncharged(engine, run_id)
    assert not any(e["kind"] == "release" for e in engine.events(run_id))


def _waiting(sup: Any) -> list[Any]:
    """The outcomes the worker holds, not yet written: its pending ones, and on PostgreSQL
    those handed to its end writer."""
    return [*sup.pending.outcomes, *(sup.ends.waiting() if sup.ends is not None else [])]


def test_an_outage_longer_than_the_lease_allows_hands_the_attempt_back_uncharged(
        store_url: str, outage_store: Store, tmp_path: Path) -> None:
    with worker(outage_store) as (engine, sup):
        run_id = trigger(engine, "dw-outage", {"go": str(tmp_path / "go")})
        go = started(engine, run_id, tmp_path)
        with outage(store_url, run_id):
            go.touch()
            eventually(lambda: any(o.kind == "platform_error" for o in _waiting(sup)),
                        30, "the attempt to be handed back")
        assert_completed_uncharged(engine, run_id)
    released = [e for e in engine.events(run_id) if e["kind"] == "release"]
    assert len(released) == 1
    assert released[0]["data"]["error"]["type"] == "PlatformUnavailable"


def test_a_result_that_ends_in_an_outage_is_written_once_the_database_is_back(
        store_url: str, outage_store: Store, tmp_path: Path) -> None:
    with worker(outage_store) as (engine, sup):
        run_id = trigger(engine, "dw-outage-result", {"go": str(tmp_path / "go")})
        executing(engine, run_id)
        with outage(store_url, run_id):
            (tmp_path / "go").touch()
            eventually(lambda: any(o.run_id == run_id for o in _waiting(sup)), 30,
                        "the outcome to wait for the database")
            eventually(lambda: sup._backoff_until > 0, 30, "a write to meet the fault")
            assert any(o.run_id == run_id for o in _waiting(sup))  # kept, not lost
        run = final_after_outage(engine, run_id)
    assert (run["status"], run["output"], run["attempts"]) == ("COMPLETED", "done", 1)


def test_a_restarting_postgres_that_refuses_connections_hands_the_attempt_back(
        store_url: str, outage_store: Store, tmp_path: Path) -> None:
    """No connection to be had: each try gives up after the store's checkout timeout
    (the worker's loop goes on), until the attempt is handed back, uncharged."""
    if not store_url.startswith("postgresql"):
        pytest.skip("refused connections are a PostgreSQL matter")
    with worker(outage_store, lease=24.0) as (engine, sup):
        run_id = trigger(engine, "dw-outage", {"go": str(tmp_path / "go")})
        go = started(engine, run_id, tmp_path)
        with refusing(store_url):
            go.touch()
            eventually(lambda: any(o.kind == "platform_error" for o in _waiting(sup)),
                        60, "the attempt to be handed back")
        assert_completed_uncharged(engine, run_id)
