"""Triggers in the app's own transaction (``connection=``): the run exists if and only if
the app's transaction commits, on both stores, with psycopg, SQLAlchemy and sqlite3.

Each test plays an app with its own ``orders`` table in Outlast's database: it writes an
order and triggers a run in one transaction, then commits or rolls back; ``TestRuns``
plays the worker.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from outlast import AsyncClient, Client, batch, task, tasks
from outlast.engine.events import QUEUED_CHANNEL
from outlast.engine.triggering import LOAD_FROM
from outlast.errors import (
    AuthError,
    ConfigError,
    InsufficientScopeError,
    TaskNotFoundError,
    ValidationError,
)
from outlast.sdk.registry import Registry
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport
from outlast.testing import TestRuns
from tests.eventually import eventually
from tests.otel_spans import recorded_spans

reg = Registry()


class Order(BaseModel):
    order_id: int


@task(registry=reg)
def ship(order: Order) -> str:
    return f"shipped {order.order_id}"


@task(registry=reg)
def nested(payload: Any) -> None:
    ship.trigger({"order_id": 1}, connection=sqlite3.connect(":memory:"))


#: the tables a trigger writes to
OUTLAST_TABLES = ("runs", "run_events", "run_tags", "debounces")


class AppDatabase:
    """The app's side: its own connections to Outlast's database, and its orders table."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "sqlite" if url.startswith("sqlite") else "postgres"
        with self.connect() as conn:
            conn.execute("DROP TABLE IF EXISTS orders")
            conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
            conn.commit()

    @property
    def path(self) -> str:
        return self.url.removeprefix("sqlite:///")

    def connect(self) -> Any:
        if self.dialect == "sqlite":
            return sqlite3.connect(self.path)
        return psycopg.connect(self.url)

    def sqlalchemy_url(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)

    def count(self, table: str) -> int:
        conn = self.connect()
        try:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()

    def leftovers(self) -> dict[str, int]:
        return {t: n for t in (*OUTLAST_TABLES, "orders") if (n := self.count(t))}

    def savepoint(self, conn: Any, name: str) -> None:
        conn.execute(f"SAVEPOINT {name}")

    def roll_back_to(self, conn: Any, name: str) -> None:
        conn.execute(f"ROLLBACK TO SAVEPOINT {name}")


@pytest.fixture
def env(store_url: str) -> Iterator[TestRuns]:
    with TestRuns(reg, database_url=store_url) as runs:
        yield runs


@pytest.fixture
def app(store_url: str, env: TestRuns) -> Iterator[AppDatabase]:
    database = AppDatabase(store_url)
    yield database
    # the test database is shared by the whole session: leave it Outlast's schema alone
    with database.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS orders")
        conn.commit()


# -- commit: the run exists and runs; rollback: nothing is left -------------------------


def test_a_committed_trigger_runs(env: TestRuns, app: AppDatabase) -> None:
    conn = app.connect()
    conn.execute("INSERT INTO orders (id) VALUES (7)")
    handle = ship.trigger({"order_id": 7}, connection=conn, tags=["order:7"])
    assert app.count("runs") == 0  # not visible to anyone before the commit
    conn.commit()
    conn.close()
    env.run_until_idle()
    run = env.retrieve(handle.id)
    assert (run.status, run.output, run.tags) == ("COMPLETED", "shipped 7", ["order:7"])
    assert [e.kind for e in env.events(handle.id)][0] == "created"


def test_a_trigger_in_an_app_span_joins_its_trace(env: TestRuns, app: AppDatabase) -> None:
    """The run is written with the app's connection and still carries the request's trace
    context: its attempt is the request span's child."""
    spans = recorded_spans()
    conn = app.connect()
    with trace.get_tracer("app").start_as_current_span("POST /orders") as request:
        conn.execute("INSERT INTO orders (id) VALUES (7)")
        handle = ship.trigger({"order_id": 7}, connection=conn)
        conn.commit()
    conn.close()
    env.run_until_idle()
    [attempt] = [s for s in spans.get_finished_spans()
                 if (s.attributes or {}).get("run_id") == handle.id]
    assert attempt.parent is not None
    assert attempt.parent.span_id == request.get_span_context().span_id
    assert attempt.context.trace_id == request.get_span_context().trace_id


def test_a_rolled_back_trigger_leaves_nothing(env: TestRuns, app: AppDatabase) -> None:
    conn = app.connect()
    conn.execute("INSERT INTO orders (id) VALUES (7)")
    ship.trigger({"order_id": 7}, connection=conn, tags=["order:7"],
                 idempotency_key="order-7")
    tasks.trigger("ship", {"order_id": 8}, connection=conn,
                  debounce={"key": "o", "delay": "5s"})
    conn.rollback()
    conn.close()
    assert app.leftovers() == {}
    assert env.run_until_idle() == 0
    again = ship.trigger({"order_id": 7}, idempotency_key="order-7")
    assert again.created  # the key was never taken


def test_an_exception_in_the_transaction_block_leaves_nothing(env: TestRuns,
                                                              app: AppDatabase) -> None:
    conn = app.connect()
    block = conn.transaction() if app.dialect == "postgres" else conn  # sqlite3: `with conn`
    with pytest.raises(RuntimeError), block:
        conn.execute("INSERT INTO orders (id) VALUES (7)")
        ship.trigger({"order_id": 7}, connection=conn)
        raise RuntimeError("the app changed its mind")
    conn.close()
    assert app.leftovers() == {}


def test_a_savepoint_rolled_back_takes_its_trigger_with_it(env: TestRuns,
                                                          app: AppDatabase) -> None:
    conn = app.connect()
    conn.execute("INSERT INTO orders (id) VALUES (7)")
    kept = ship.trigger({"order_id": 7}, connection=conn)
    app.savepoint(conn, "maybe")
    ship.trigger({"order_id": 8}, connection=conn)
    app.roll_back_to(conn, "maybe")
    conn.commit()
    conn.close()
    env.run_until_idle()
    assert app.count("runs") == 1
    assert env.retrieve(kept.id).status == "COMPLETED"


def test_an_unknown_task_fails_and_the_transaction_goes_on(env: TestRuns,
                                                           app: AppDatabase) -> None:
    conn = app.connect()
    conn.execute("INSERT INTO orders (id) VALUES (7)")
    with pytest.raises(TaskNotFoundError, match="no-such-task"):
        tasks.trigger("no-such-task", {}, connection=conn)
    with pytest.raises(ValidationError, match="order_id"):
        tasks.trigger("ship", {"order_id": "seven"}, connection=conn)
    conn.execute("INSERT INTO orders (id) VALUES (8)")
    conn.commit()
    conn.close()
    assert app.leftovers() == {"orders": 2}


def test_one_idempotency_key_twice_in_a_transaction_is_one_run(env: TestRuns,
                                                               app: AppDatabase) -> None:
    conn = app.connect()
    first = ship.trigger({"order_id": 7}, connection=conn, idempotency_key="order-7")
    second = ship.trigger({"order_id": 7}, connection=conn, idempotency_key="order-7")
    conn.commit()
    conn.close()
    assert (first.id, first.created, second.created) == (second.id, True, False)
    assert app.count("runs") == 1


def test_batches_in_the_transaction(env: TestRuns, app: AppDatabase) -> None:
    conn = app.connect()
    gone = batch.trigger([{"task": "ship", "payload": {"order_id": 1}}], connection=conn)
    conn.rollback()
    kept = ship.batch_trigger([{"payload": {"order_id": 2}}, {"payload": {"order_id": 3}}],
                              connection=conn)
    conn.commit()
    conn.close()
    env.run_until_idle()
    assert app.count("runs") == 2
    assert [env.retrieve(r.id).output for r in kept.runs] == ["shipped 2", "shipped 3"]
    assert gone.runs[0].id not in {r.id for r in kept.runs}


def test_a_bulk_batch_in_the_transaction(env: TestRuns, app: AppDatabase) -> None:
    """A batch of ``LOAD_FROM`` runs or more (loaded in bulk: PostgreSQL's COPY, on the
    app's connection) commits and rolls back with the app's transaction; the transaction
    goes on after it."""
    items = [{"payload": {"order_id": i}, "options": {"tags": ["bulk"]}}
             for i in range(LOAD_FROM)]
    conn = app.connect()
    ship.batch_trigger(items, connection=conn)
    conn.rollback()
    assert app.leftovers() == {}
    conn.execute("INSERT INTO orders (id) VALUES (1)")
    kept = ship.batch_trigger(items, connection=conn)
    conn.execute("INSERT INTO orders (id) VALUES (2)")
    conn.commit()
    conn.close()
    assert (app.count("orders"), app.count("runs"), app.count("run_tags")) == (
        2, LOAD_FROM, LOAD_FROM)
    assert app.count("run_events") == LOAD_FROM
    env.run_until_idle()
    assert env.retrieve(kept.runs[-1].id).output == f"shipped {LOAD_FROM - 1}"


def test_a_bulk_batch_on_an_async_connection(env: TestRuns, app: AppDatabase) -> None:
    if app.dialect != "postgres":
        pytest.skip("an AsyncConnection is psycopg's")
    client = AsyncClient(transport=AsyncLocalTransport(env.client.transport))
    items = [{"payload": {"order_id": i}} for i in range(LOAD_FROM)]

    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(app.url) as aconn:
            await client.tasks.batch_trigger("ship", items, connection=aconn)
            await aconn.rollback()
            await client.tasks.batch_trigger("ship", items, connection=aconn)
            await aconn.commit()

    asyncio.run(main())
    assert app.count("runs") == LOAD_FROM


def test_a_database_missing_migrations_is_refused(env: TestRuns, app: AppDatabase) -> None:
    conn = app.connect()
    conn.execute("DELETE FROM outlast_migrations WHERE name = '0012_versions.sql'")
    with pytest.raises(ConfigError, match="missing migrations 0012_versions.sql"):
        ship.trigger({"order_id": 7}, connection=conn)
    conn.rollback()
    conn.close()
    assert app.leftovers() == {}


def test_a_listening_worker_hears_of_the_run_when_the_app_commits(
        env: TestRuns, app: AppDatabase) -> None:
    listener = env.store.listen([QUEUED_CHANNEL])
    try:
        conn = app.connect()
        ship.trigger({"order_id": 7}, connection=conn)
        assert not heard_before_a_marker(listener, app)
        conn.commit()
        conn.close()
        eventually(lambda: (QUEUED_CHANNEL, "ship") in listener.drain() or listener.changed(),
                   what="news of the committed run")
    finally:
        listener.close()


def heard_before_a_marker(listener: Any, app: AppDatabase) -> bool:
    """Whether the listener heard of a run (SQLite: a commit) before a marker notification
    sent after the trigger (an uncommitted transaction's NOTIFY is never sent)."""
    if app.dialect == "sqlite":
        return bool(listener.changed())
    with psycopg.connect(app.url, autocommit=True) as other:
        other.execute("SELECT pg_notify(%s, 'marker')", (QUEUED_CHANNEL,))
    notes: list[tuple[str, str]] = []
    eventually(lambda: notes.extend(listener.drain()) or (QUEUED_CHANNEL, "marker") in notes,
               what="the marker")
    return (QUEUED_CHANNEL, "ship") in notes


def test_a_version_pin_is_checked_in_the_transaction(env: TestRuns, app: AppDatabase) -> None:
    conn = app.connect()
    with pytest.raises(ValidationError, match="no-such-version"):
        ship.trigger({"order_id": 7}, connection=conn, version="no-such-version")
    conn.rollback()
    conn.close()


# -- SQLAlchemy ----------------------------------------------------------------------------


def test_a_sqlalchemy_session(env: TestRuns, app: AppDatabase) -> None:
    engine = create_engine(app.sqlalchemy_url())
    try:
        with Session(engine) as session:
            session.execute(text("INSERT INTO orders (id) VALUES (7)"))
            kept = ship.trigger({"order_id": 7}, connection=session)
            session.commit()
        with Session(engine) as session:
            session.execute(text("INSERT INTO orders (id) VALUES (8)"))
            ship.trigger({"order_id": 8}, connection=session)
            session.rollback()
        with engine.connect() as connection:  # a Connection: begun for the caller's commit
            tasks.trigger("ship", {"order_id": 9}, connection=connection)
            connection.commit()
    finally:
        engine.dispose()
    env.run_until_idle()
    assert env.retrieve(kept.id).output == "shipped 7"
    assert (app.count("orders"), app.count("runs")) == (1, 2)


# -- asyncio -------------------------------------------------------------------------------


async def async_triggers(env: TestRuns, app: AppDatabase) -> list[str]:
    """PostgreSQL: an ``AsyncConnection`` and an ``AsyncSession``; SQLite: a sqlite3
    connection and a SQLAlchemy ``Session`` used from async code (blocking, as the app's
    own queries on them are). Each commits one trigger and rolls one back."""
    local = env.client.transport
    assert isinstance(local, LocalTransport)
    client = AsyncClient(transport=AsyncLocalTransport(local))
    if app.dialect == "postgres":
        return await async_postgres(client, app)
    kept = []
    conn = app.connect()
    kept.append((await client.tasks.trigger("ship", {"order_id": 1}, connection=conn)).id)
    conn.commit()
    await client.tasks.trigger("ship", {"order_id": 2}, connection=conn)
    conn.rollback()
    conn.close()
    engine = create_engine(app.sqlalchemy_url())
    with Session(engine) as session:
        [handle] = await client.batch.trigger([{"task": "ship", "payload": {"order_id": 3}}],
                                              connection=session)
        kept.append(handle.id)
        session.commit()
    engine.dispose()
    return kept


async def async_postgres(client: AsyncClient, app: AppDatabase) -> list[str]:
    kept = []
    async with await psycopg.AsyncConnection.connect(app.url) as aconn:
        handle = await client.tasks.trigger("ship", {"order_id": 1}, connection=aconn)
        kept.append(handle.id)
        await aconn.commit()
        await client.tasks.trigger("ship", {"order_id": 2}, connection=aconn)
        await aconn.rollback()
    engine = create_async_engine(app.sqlalchemy_url())
    async with AsyncSession(engine) as session:
        [handle] = await client.tasks.batch_trigger("ship", [{"payload": {"order_id": 3}}],
                                                    connection=session)
        kept.append(handle.id)
        await session.commit()
        await client.batch.trigger([{"task": "ship", "payload": {"order_id": 4}}],
                                   connection=session)
        await session.rollback()
    await engine.dispose()
    return kept


def test_the_async_twins(env: TestRuns, app: AppDatabase) -> None:
    kept = asyncio.run(async_triggers(env, app))
    env.run_until_idle()
    assert app.count("runs") == 2
    assert [env.retrieve(i).status for i in kept] == ["COMPLETED", "COMPLETED"]


# -- where runs go, and what is refused ---------------------------------------------------


def test_an_http_client_names_its_environment_by_its_key(env: TestRuns,
                                                         app: AppDatabase) -> None:
    key = env.engine.create_api_key("test")
    conn = app.connect()
    with Client(url="http://127.0.0.1:9", api_key=key) as client:  # never contacted
        handle = client.tasks.trigger("ship", {"order_id": 7}, connection=conn)
    with (Client(url="http://127.0.0.1:9", api_key="not-a-key") as client,
          pytest.raises(AuthError, match="not in the database")):
        client.tasks.trigger("ship", {"order_id": 8}, connection=conn)
    conn.commit()
    conn.close()
    env.run_until_idle()
    assert env.retrieve(handle.id).status == "COMPLETED"


def test_a_read_only_key_cannot_trigger_in_a_transaction(env: TestRuns,
                                                         app: AppDatabase) -> None:
    conn = app.connect()
    for scope, allowed in (("read", False), ("trigger", True)):
        key = env.engine.create_api_key("test", scope=scope)
        with Client(url="http://127.0.0.1:9", api_key=key) as client:  # never contacted
            if allowed:
                client.tasks.trigger("ship", {"order_id": 9}, connection=conn)
            else:
                with pytest.raises(InsufficientScopeError, match="needs a trigger API key"):
                    client.tasks.trigger("ship", {"order_id": 9}, connection=conn)
    conn.commit()
    conn.close()
    assert len(env.engine.list_runs("test")[0]) == 1


def test_what_is_not_a_connection_is_refused(env: TestRuns) -> None:
    with pytest.raises(TypeError, match="psycopg Connection, a SQLAlchemy Session"):
        ship.trigger({"order_id": 7}, connection="postgresql://nope")
    local = env.client.transport
    assert isinstance(local, LocalTransport)
    client = AsyncClient(transport=AsyncLocalTransport(local))
    with pytest.raises(TypeError, match="psycopg AsyncConnection or Connection"):
        asyncio.run(client.tasks.trigger("ship", {"order_id": 7}, connection=object()))


def test_an_autocommit_connection_is_refused(env: TestRuns, app: AppDatabase) -> None:
    if app.dialect == "sqlite":
        conn = sqlite3.connect(app.path, isolation_level=None)
    else:
        conn = psycopg.connect(app.url, autocommit=True)
    with pytest.raises(ValidationError, match="autocommit"):
        ship.trigger({"order_id": 7}, connection=conn)
    conn.close()
    assert app.leftovers() == {}


def test_a_database_without_outlast_is_refused(env: TestRuns, app: AppDatabase,
                                               tmp_path: Path) -> None:
    from tests.conftest import create_pg_database, drop_pg_database

    name = f"outlast_app_only_{os.getpid()}"
    if app.dialect == "sqlite":
        other: Any = sqlite3.connect(tmp_path / "app-only.db")
    else:
        other = psycopg.connect(create_pg_database(name))
    try:
        with pytest.raises(ConfigError, match="Outlast's (tables|database)"):
            ship.trigger({"order_id": 7}, connection=other)
        other.execute("SELECT 1")  # still usable
    finally:
        other.close()
        if app.dialect == "postgres":
            drop_pg_database(name)


def test_inside_a_task_connection_is_refused(env: TestRuns) -> None:
    run = env.run(nested, None, max_attempts=1)
    assert run.status == "FAILED"
    assert "inside a task" in str(run.error)


def test_a_project_in_its_own_schema(store_url: str) -> None:
    """PostgreSQL ``?schema=``: the run goes to the project's schema whatever the app's
    search path, which is as it was afterwards; the wake-up names the project's channel."""
    if not store_url.startswith("postgresql"):
        pytest.skip("schemas are a PostgreSQL matter")
    schema = f"outlast_tx_{os.getpid()}"
    with TestRuns(reg, database_url=f"{store_url}?schema={schema}") as env:
        listener = env.store.listen([QUEUED_CHANNEL])
        try:
            with psycopg.connect(store_url) as conn:
                handle = ship.trigger({"order_id": 7}, connection=conn)
                assert conn.execute("SHOW search_path").fetchone() == ('"$user", public',)
            eventually(lambda: (QUEUED_CHANNEL, "ship") in listener.drain(),
                       what="the project's wake-up")
        finally:
            listener.close()
        env.run_until_idle()
        assert env.retrieve(handle.id).status == "COMPLETED"
    with psycopg.connect(store_url, autocommit=True) as admin:
        assert admin.execute("SELECT count(*) FROM public.runs").fetchone() == (0,)
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
