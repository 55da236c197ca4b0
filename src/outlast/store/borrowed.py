"""A transaction the application owns, lent to Outlast: triggers in the app's transaction.

``tasks.trigger(..., connection=conn)`` writes the run with the app's own database
connection, so the run exists if and only if the app's transaction commits (the outbox
pattern). Accepted: a psycopg ``Connection`` (``AsyncConnection`` from async code), a
SQLAlchemy ``Session`` or ``Connection`` over psycopg or sqlite3 (``AsyncSession`` /
``AsyncConnection`` over psycopg from async code), and a ``sqlite3.Connection`` to the
project's SQLite file. SQLAlchemy is not a dependency: its objects are recognised by their
module and unwrapped to the DBAPI connection inside their transaction.

``BorrowedStore`` wraps the lent ``Tx`` as a ``Store`` so that the engine and the API
handlers run unchanged on it: every check and every write of an ordinary trigger, with
the caller's connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from outlast.errors import ConfigError
from outlast.store.blobs.protocol import BlobStore, NoBlobs
from outlast.store.protocol import Listener, Tx

ACCEPTED = ("a psycopg Connection, a SQLAlchemy Session or Connection, or (on SQLite) a "
            "sqlite3.Connection to Outlast's database file")
ACCEPTED_ASYNC = ("a psycopg AsyncConnection or Connection, a SQLAlchemy AsyncSession, "
                  "AsyncConnection, Session or Connection, or (on SQLite) a "
                  "sqlite3.Connection to Outlast's database file")


def _is_sqlalchemy(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "sqlalchemy"


def dbapi_connection(obj: Any) -> Any:
    """The DBAPI connection behind a SQLAlchemy ``Session`` or ``Connection``, inside the
    transaction its ``commit()`` ends; anything else as given."""
    if not _is_sqlalchemy(obj):
        return obj
    if callable(getattr(obj, "connection", None)):  # a Session: its connection, begun
        obj = obj.connection()
    if not hasattr(obj, "in_transaction") or not hasattr(obj, "connection"):
        raise TypeError(f"connection= takes {ACCEPTED}; got {type(obj).__name__}")
    if not obj.in_transaction():
        obj.begin()  # else the caller's commit() would have nothing to commit
    return obj.connection.driver_connection


async def dbapi_connection_async(obj: Any) -> Any:
    """``dbapi_connection`` for SQLAlchemy's asyncio ``AsyncSession``/``AsyncConnection``."""
    if not _is_sqlalchemy(obj) or not type(obj).__module__.startswith("sqlalchemy.ext"):
        return dbapi_connection(obj)
    if hasattr(obj, "sync_session"):  # an AsyncSession
        obj = await obj.connection()
    if not obj.in_transaction():
        await obj.begin()
    raw = await obj.get_raw_connection()
    return raw.driver_connection


def lend(connection: Any, url: str | None, *,
         accepted: str = ACCEPTED) -> AbstractContextManager[Tx]:
    """A ``Tx`` over ``connection`` (already unwrapped) inside its transaction.

    ``url``: the project's database URL when this process knows it (a client given
    ``database_url``): its schema (PostgreSQL) or file (SQLite) is where the run goes.
    ``accepted``: what the refusal of anything else lists (the async twins take more).
    """
    import psycopg  # a dependency; loaded when a connection is lent

    if isinstance(connection, psycopg.Connection):
        from outlast.store.postgres import borrowed as pg

        pg.check_state(connection)
        return pg.borrowed(pg.SyncRunner(connection), _schema(url))
    if isinstance(connection, sqlite3.Connection):
        from outlast.store.sqlite import borrowed as lite

        return lite.borrowed(connection, _sqlite_path(url))
    if isinstance(connection, psycopg.AsyncConnection):
        raise TypeError("connection=: a psycopg AsyncConnection is for the async twin "
                        "(trigger_async, batch_trigger_async); here use a Connection")
    raise TypeError(f"connection= takes {accepted}; got {type(connection).__name__}")


def is_async(connection: Any) -> bool:
    import psycopg

    return isinstance(connection, psycopg.AsyncConnection)


def lend_async(connection: Any, url: str | None,
               loop: asyncio.AbstractEventLoop) -> AbstractContextManager[Tx]:
    """``lend`` for a psycopg ``AsyncConnection``, used from a thread other than ``loop``'s
    (which must stay free: the caller awaits that thread)."""
    from outlast.store.postgres import borrowed as pg

    pg.check_state(connection)
    return pg.borrowed(pg.AsyncRunner(connection, loop), _schema(url))


def _schema(url: str | None) -> str | None:
    if url is None or not url.startswith(("postgresql://", "postgres://")):
        return None
    from outlast.store.postgres.target import parse_target

    return parse_target(url).schema


def _sqlite_path(url: str | None) -> str | None:
    if url is None or not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    return None if path == ":memory:" else path


class BorrowedStore:
    """One lent transaction as a ``Store``: each ``transaction()`` is that one, never
    committed here. Nothing else a store does (listening, migrating) is lent."""

    #: the engine never branches on it; named for messages only
    dialect = "borrowed"
    url = ""
    concurrency = 1
    embedded = False
    serial_writes = False

    def __init__(self, tx: Tx, blobs: BlobStore | None = None) -> None:
        self._tx = tx
        self._blobs = blobs

    def blob_store(self) -> BlobStore:
        """The project's blob store when the lending process knows it (a client given
        ``database_url``); else one that refuses: a large payload cannot be triggered in
        a transaction whose blob store is unknown here."""
        return self._blobs if self._blobs is not None else NoBlobs()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        yield self._tx

    def migrate(self) -> list[str]:
        raise ConfigError("a connection lent to a trigger is never migrated by Outlast: "
                          "run `outlast migrate` on its database")

    def listen(self, channels: list[str]) -> Listener:
        raise ConfigError("a connection lent to a trigger cannot listen: its notes go out "
                          "with the caller's commit")

    def compact(self) -> None:
        raise ConfigError("a connection lent to a trigger is never vacuumed by Outlast: "
                          "run `outlast prune --vacuum` on its database")

    def reclaim(self, tables: list[str]) -> None:
        raise ConfigError("a connection lent to a trigger is never vacuumed by Outlast: "
                          "its workers' and servers' upkeep does it")

    def add_local_listener(self, callback: Callable[[str, str], None]) -> None:
        """Nothing is announced in process: the commit is the caller's."""

    def remove_local_listener(self, callback: Callable[[str, str], None]) -> None:
        """Nothing was added."""

    def close(self) -> None:
        """The connection is the caller's to close."""
