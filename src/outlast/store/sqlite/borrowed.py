"""Outlast's queries on the application's own ``sqlite3`` connection to Outlast's file.

Useful in development and tests: the app opens the project's database file itself and
triggers inside its own transaction. Outlast's statements run in a savepoint, released
when they succeed and rolled back when they fail; the caller commits or rolls back.

SQLite has no notifications a commit delivers, so nothing is announced: workers notice
the commit by the file's ``data_version`` (``SQLiteListener.changed``) within a fraction
of a second. The write lock this transaction takes is held until the caller commits.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any

from outlast.errors import ConfigError, ValidationError
from outlast.store.queries import QueryBook, load_queries, migration_files
from outlast.store.sqlite.store import SQLiteTx, _adapt

SAVEPOINT = "outlast_trigger"


@cache
def _queries() -> QueryBook:
    return QueryBook(load_queries("sqlite"))


class BorrowedSQLiteTx(SQLiteTx):
    """``SQLiteTx`` reading rows as mappings whatever the caller's ``row_factory``."""

    def _cursor(self, name: str, params: dict[str, Any]) -> sqlite3.Cursor:
        cur = self._conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(self._queries.text(name, params), _adapt(params))


@contextmanager
def borrowed(conn: sqlite3.Connection, path: str | None) -> Iterator[BorrowedSQLiteTx]:
    """A ``Tx`` in a savepoint of the caller's transaction (begun here when the module
    would begin it at the caller's next write). ``path``: the project's database file,
    when known, which the connection must have open."""
    began = _begin_if_needed(conn)
    conn.execute(f"SAVEPOINT {SAVEPOINT}")
    try:
        _check_database(conn, path)
        yield BorrowedSQLiteTx(conn, _queries())
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute(f"ROLLBACK TO {SAVEPOINT}")
            conn.execute(f"RELEASE {SAVEPOINT}")
            if began:  # the transaction held only what failed: end it, and its lock
                conn.rollback()
        raise
    conn.execute(f"RELEASE {SAVEPOINT}")


def _begin_if_needed(conn: sqlite3.Connection) -> bool:
    """Open the caller's transaction as ``sqlite3`` would at their next write; refuse a
    connection in autocommit mode, whose writes nobody could roll back."""
    if conn.in_transaction:
        return False
    if getattr(conn, "autocommit", -1) is True or conn.isolation_level is None:
        raise ValidationError(
            "connection=: the sqlite3 connection is in autocommit mode with no transaction "
            "open, so the run would be committed at once; execute BEGIN first")
    conn.execute("BEGIN IMMEDIATE")  # the writer's lock now: no upgrade to fail later
    return True


def _check_database(conn: sqlite3.Connection, path: str | None) -> None:
    main = conn.execute("PRAGMA database_list").fetchone()
    if path is not None and not _same_file(main[2] if main else "", path):
        raise ConfigError(f"connection=: the sqlite3 connection has {main[2]!r} open, not "
                          f"Outlast's database {path!r}")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                    "AND name = 'outlast_migrations'").fetchone() is None:
        raise ConfigError("connection= reaches a database without Outlast's tables: it must "
                          "be a connection to Outlast's own database file")
    applied = {r[0] for r in conn.execute("SELECT name FROM outlast_migrations")}
    missing = sorted({n for n, _ in migration_files("sqlite")} - applied)
    if missing:
        raise ConfigError(f"connection=: Outlast's database is missing migrations "
                          f"{', '.join(missing)}: run `outlast migrate`")


def _same_file(opened: str, path: str) -> bool:
    try:
        return os.path.samefile(opened, path)
    except OSError:
        return False
