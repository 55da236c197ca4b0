"""PostgreSQL store: what a team runs in production, many servers and workers on one queue.

Claims use ``FOR UPDATE SKIP LOCKED`` so concurrent workers never block on each other's
rows; ``pg_notify`` inside the writing transaction wakes idle workers the moment a run is
queued (delivered on commit, so a woken worker always sees the row).
"""

from __future__ import annotations

import re
import select
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from outlast.store.migrate import apply_all
from outlast.store.protocol import Row
from outlast.store.queries import load_queries

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_MIGRATION_LOCK = 7_262_001  # advisory lock id: one migrator at a time


def to_pyformat(sql: str) -> str:
    """``:name`` → ``%(name)s``; ``::casts`` and literal ``%`` are kept."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgresTx:
    def __init__(self, conn: psycopg.Connection[Row], queries: dict[str, str]) -> None:
        self._conn = conn
        self._queries = queries
        self.notifications: dict[tuple[str, str], None] = {}

    def one(self, name: str, /, **params: Any) -> Row | None:
        with self._conn.cursor() as cur:
            cur.execute(self._queries[name], params)
            return cur.fetchone() if cur.description else None

    def all(self, name: str, /, **params: Any) -> list[Row]:
        with self._conn.cursor() as cur:
            cur.execute(self._queries[name], params)
            return cur.fetchall() if cur.description else []

    def run(self, name: str, /, **params: Any) -> int:
        with self._conn.cursor() as cur:
            cur.execute(self._queries[name], params)
            return cur.rowcount

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(self._queries[name], rows)

    def notify(self, channel: str, payload: str = "") -> None:
        self.notifications[(channel, payload)] = None

    def send_notifications(self) -> None:
        """One round trip for all of this transaction's notifications, just before commit."""
        if self.notifications:
            channels, payloads = zip(*self.notifications, strict=True)
            self._conn.execute(
                "SELECT pg_notify(c, p) FROM unnest(%s::text[], %s::text[]) AS n(c, p)",
                (list(channels), list(payloads)),
            )


class PostgresListener:
    """A dedicated autocommit connection that LISTENs; its socket goes into select()."""

    def __init__(self, url: str, channels: list[str]) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        for channel in channels:
            self._conn.execute(f'LISTEN "{channel}"')

    def fileno(self) -> int:
        return self._conn.fileno()

    def drain(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        ready, _, _ = select.select([self._conn.fileno()], [], [], 0)
        if not ready:
            return out
        for note in self._conn.notifies(timeout=0):
            out.append((note.channel, note.payload))
        return out

    def close(self) -> None:
        self._conn.close()


class PostgresStore:
    dialect = "postgres"

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._queries = {k: to_pyformat(v) for k, v in load_queries("postgres").items()}
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "autocommit": False},
            open=True,
            check=ConnectionPool.check_connection,
        )
        self._local_listeners: list[Callable[[str, str], None]] = []

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[PostgresTx]:
        with self._pool.connection() as conn:
            with conn.transaction():
                tx = PostgresTx(cast("psycopg.Connection[Row]", conn), self._queries)
                yield tx
                tx.send_notifications()
            for channel, payload in tx.notifications:
                for callback in list(self._local_listeners):
                    callback(channel, payload)

    def migrate(self) -> list[str]:
        with psycopg.connect(self.url, autocommit=False) as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS outlast_migrations "
                "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            applied = {r[0] for r in conn.execute("SELECT name FROM outlast_migrations")}

            def apply_one(name: str, sql: str) -> None:
                conn.execute(sql.encode())
                conn.execute("INSERT INTO outlast_migrations (name) VALUES (%s)", (name,))

            done = apply_all(self.dialect, applied, apply_one)
            conn.commit()
        return done

    def listen(self, channels: list[str]) -> PostgresListener:
        return PostgresListener(self.url, channels)

    def add_local_listener(self, callback: Callable[[str, str], None]) -> None:
        self._local_listeners.append(callback)

    def close(self) -> None:
        self._pool.close()
