"""Outlast's queries on the application's own psycopg connection, inside its transaction.

The app's transaction decides: the run is written with its connection, so it exists if and
only if the app commits. Nothing here commits, rolls back or closes that transaction.
Outlast's statements run inside a savepoint, released when they succeed and rolled back
when they fail, so a refused trigger leaves the caller's transaction as it was, usable.

``NOTIFY`` issued inside a transaction is delivered when it commits and never when it
rolls back, so workers wake for a committed run the moment it exists, as for any trigger.

A psycopg ``AsyncConnection`` is driven from the thread that runs the (synchronous)
engine: each statement is handed to the connection's event loop, which the caller keeps
free by awaiting that thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier

from outlast.errors import ConfigError, ValidationError
from outlast.store.postgres import arrays
from outlast.store.postgres.outbox import NOTIFY_SQL, Outbox
from outlast.store.postgres.store import (
    PostgresTx,
    copy_in,
    copy_text,
    to_pyformat,
)
from outlast.store.postgres.target import PostgresTarget
from outlast.store.protocol import Row
from outlast.store.queries import QueryBook, load_queries, migration_files

SAVEPOINT = "outlast_trigger"
_FIND_SCHEMA = (
    "SELECT n.nspname AS schema FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = to_regclass('outlast_migrations')")
Query = str | SQL | Composed
Answer = tuple[list[Row] | None, int]


class Runner(Protocol):
    """Runs one statement on the caller's connection: (rows or None, rowcount)."""

    def execute(self, sql: Query, params: Any = None) -> Answer: ...

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None: ...

    def copy(self, statement: str, data: Iterable[str]) -> None:
        """A text ``COPY … FROM STDIN`` of ``data`` (``CopyIn.text``)."""
        ...


class SyncRunner:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: Query, params: Any = None) -> Answer:
        with self._conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return (cur.fetchall() if cur.description else None), cur.rowcount

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def copy(self, statement: str, data: Iterable[str]) -> None:
        copy_text(self._conn, statement, data)


class AsyncRunner:
    """Statements sent to an ``AsyncConnection`` from another thread, on its own loop."""

    def __init__(self, conn: psycopg.AsyncConnection[Any],
                 loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._loop = loop

    def execute(self, sql: Query, params: Any = None) -> Answer:
        return asyncio.run_coroutine_threadsafe(self._execute(sql, params), self._loop).result()

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        asyncio.run_coroutine_threadsafe(self._executemany(sql, rows), self._loop).result()

    def copy(self, statement: str, data: Iterable[str]) -> None:
        """The rows are made here, in this thread, before the loop sends them."""
        chunks = list(data)
        asyncio.run_coroutine_threadsafe(self._copy(statement, chunks), self._loop).result()

    async def _execute(self, sql: Query, params: Any) -> Answer:
        async with self._conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return (await cur.fetchall() if cur.description else None), cur.rowcount

    async def _executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        async with self._conn.cursor() as cur:
            await cur.executemany(sql, rows)

    async def _copy(self, statement: str, chunks: list[str]) -> None:
        async with self._conn.cursor() as cur, cur.copy(statement) as out:
            for chunk in chunks:
                await out.write(chunk)


class BorrowedPostgresTx:
    """A ``Tx`` over the caller's connection; notifications go out just before the
    savepoint is released, and reach listeners when the caller commits."""

    compound_writes = True
    statuses_apart = PostgresTx.statuses_apart

    def __init__(self, runner: Runner, target: PostgresTarget) -> None:
        self._runner = runner
        self._queries = _queries()
        self._outbox = Outbox(target)
        #: statements ``many`` queued while a load's rows are made (``Tx.load``), or None
        self._after_load: list[tuple[str, list[dict[str, Any]]]] | None = None

    @property
    def notifications(self) -> dict[tuple[str, str], None]:
        return self._outbox.all

    def one(self, name: str, /, **params: Any) -> Row | None:
        rows = self.all(name, **params)
        return rows[0] if rows else None

    def one_deferred(self, name: str, /) -> Callable[[], Row | None]:
        """The caller's transaction is open already: ``one`` now."""
        row = self.one(name)
        return lambda: row

    def all(self, name: str, /, **params: Any) -> list[Row]:
        rows, _ = self._execute(name, params)
        return rows or []

    def run(self, name: str, /, **params: Any) -> int:
        return self._execute(name, params)[1]

    def alone(self, name: str, /, **params: Any) -> list[Row]:
        """The caller's transaction goes on after it: ``all``."""
        return self.all(name, **params)

    def _execute(self, name: str, params: dict[str, Any]) -> Answer:
        sql = self._queries.text(name, params)
        return self._runner.execute(sql, self._outbox.fill(sql, arrays.with_literals(sql, params)))

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None:
        if rows:
            sql = self._queries.text(name, rows[0])
            if self._after_load is not None:
                self._after_load.append((sql, self._outbox.fill_many(sql, rows)))
                return
            self._runner.executemany(sql, self._outbox.fill_many(sql, rows))

    def load(self, name: str, /, rows: Iterable[dict[str, Any]], *, alike: bool = False) -> None:
        """``COPY`` on the caller's connection, inside the savepoint."""
        copy = copy_in(self._queries.text(name, {}))
        self._after_load = []
        try:
            self._runner.copy(copy.statement, copy.text(rows, alike=alike))
        finally:
            queued, self._after_load = self._after_load, None
        for sql, filled in queued:
            self._runner.executemany(sql, filled)

    def notify(self, channel: str, payload: str = "") -> None:
        self._outbox.add(channel, payload)

    def notified(self, channel: str, payload: str = "") -> None:
        self._outbox.sent(channel, payload)

    def one_snapshot(self) -> None:
        """The caller's transaction is the caller's: its isolation is theirs."""

    def lazy_commit(self) -> None:
        """The caller's commit is the caller's: nothing to relax."""

    def send_notifications(self) -> None:
        """Those no statement carried (``outbox``)."""
        if self._outbox.pending:
            self._runner.execute(NOTIFY_SQL, (self._outbox.take(),))


@cache
def _queries() -> QueryBook:
    return QueryBook(load_queries("postgres"), to_pyformat)


def check_state(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Refuse a connection whose writes would not wait for the caller's commit."""
    status = conn.info.transaction_status
    states = psycopg.pq.TransactionStatus
    if status == states.INERROR:
        raise ValidationError("connection=: its transaction has already failed; roll it "
                              "back before triggering")
    if status in (states.ACTIVE, states.UNKNOWN):
        raise ValidationError(f"connection=: the connection is not usable ({status.name})")
    if status == states.IDLE and conn.autocommit:
        raise ValidationError(
            "connection=: the connection is in autocommit mode with no transaction open, "
            "so the run would be committed at once; trigger inside `with conn.transaction():`")


@contextmanager
def borrowed(runner: Runner, schema: str | None) -> Iterator[BorrowedPostgresTx]:
    """A ``Tx`` inside a savepoint of the caller's transaction; ``schema``: where this
    project's tables live (``?schema=`` of its URL), else wherever the connection's own
    search path finds them."""
    runner.execute(f"SAVEPOINT {SAVEPOINT}")
    try:
        restore = _enter_schema(runner, schema)
        tx = BorrowedPostgresTx(runner, _target(runner))
        yield tx
        tx.send_notifications()
        if restore is not None:
            runner.execute("SELECT set_config('search_path', %s, true)", (restore,))
    except BaseException:
        with suppress(psycopg.Error):  # a broken connection: the caller's error says so
            runner.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
            runner.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
        raise
    runner.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")


def _enter_schema(runner: Runner, schema: str | None) -> str | None:
    """Point the search path at ``schema`` until the savepoint ends; the old path."""
    if schema is None:
        return None
    rows, _ = runner.execute("SELECT current_setting('search_path') AS path")
    runner.execute("SELECT set_config('search_path', %s, true)", (schema,))
    return str(rows[0]["path"]) if rows else None


def _target(runner: Runner) -> PostgresTarget:
    """Where the search path finds Outlast's tables, checked to be fully migrated."""
    rows, _ = runner.execute(_FIND_SCHEMA)
    if not rows or rows[0]["schema"] is None:
        raise ConfigError(
            "connection= reaches a database without Outlast's tables (none on its search "
            "path): it must be a connection to Outlast's own database (run `outlast migrate` "
            "for a new one)")
    schema = str(rows[0]["schema"])
    applied, _ = runner.execute(
        SQL("SELECT name FROM {}.outlast_migrations").format(Identifier(schema)))
    missing = sorted({n for n, _ in migration_files("postgres")}
                     - {r["name"] for r in applied or []})
    if missing:
        raise ConfigError(f"connection=: Outlast's database is missing migrations "
                          f"{', '.join(missing)}: run `outlast migrate`")
    return PostgresTarget("", None if schema == "public" else schema)
