"""SQLite store: the embedded default used by ``outlast dev`` and the test harness.

One connection per thread, WAL mode, and ``BEGIN IMMEDIATE`` for every writing
transaction, so that two processes claiming runs serialise on the database lock instead
of both reading the same QUEUED row. Readers never block writers under WAL.

Within one process, writing threads also take turns on a lock before ``BEGIN
IMMEDIATE``. SQLite's own wait for a busy database is a sleep-and-retry loop (1, 2, 5,
10… ms), so with many threads writing at once (a server answering 50 triggers) the
losers sleep past the moment the database frees and then retry together. Measured
through the app, a trigger cost 0.74 ms of CPU with 40 threads and 0.42 ms with this
lock, which hands the database to the next writer as soon as the last one commits.
Other processes still meet at the database lock; a writer waits for theirs in short,
even steps rather than with ``busy_timeout``'s growing sleeps (``busy.py``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from typing import Any

from outlast.store.base import BaseStore
from outlast.store.blobs.directory import DirectoryBlobs
from outlast.store.migrate import apply_all
from outlast.store.protocol import Row
from outlast.store.queries import QueryBook, load_queries
from outlast.store.sqlite.busy import BUSY_TIMEOUT_MS, begin_immediate
from outlast.store.sqlite.wake import WakeSender, WakeSocket

log = logging.getLogger("outlast.store")

#: how often a listener looks at ``data_version`` for commits no wake-up announced
RECHECK_WITH_SOCKET = 0.25
RECHECK_WITHOUT = 0.003


def _adapt(params: dict[str, Any]) -> dict[str, Any]:
    """Lists become JSON text, read back in SQL with ``json_each``."""
    return {k: json.dumps(v) if isinstance(v, list | tuple) else v for k, v in params.items()}


class SQLiteTx:
    #: SQLite has no data-modifying CTEs: callers write the rows a statement cannot
    compound_writes = False
    #: SQLite's indexes hold every run: a page is one query per status and search kind
    statuses_apart: frozenset[str] = frozenset()

    def __init__(self, conn: sqlite3.Connection, queries: QueryBook) -> None:
        self._conn = conn
        self._queries = queries
        self.notifications: list[tuple[str, str]] = []

    def _cursor(self, name: str, params: dict[str, Any]) -> sqlite3.Cursor:
        return self._conn.execute(self._queries.text(name, params), _adapt(params))

    def one(self, name: str, /, **params: Any) -> Row | None:
        cur = self._cursor(name, params)
        row = cur.fetchone()
        cur.fetchall()  # finish RETURNING statements
        return dict(row) if row is not None else None

    def one_deferred(self, name: str, /) -> Callable[[], Row | None]:
        """SQLite has no round trip to share: ``one`` now."""
        row = self.one(name)
        return lambda: row

    def all(self, name: str, /, **params: Any) -> list[Row]:
        return [dict(r) for r in self._cursor(name, params).fetchall()]

    def run(self, name: str, /, **params: Any) -> int:
        return self._cursor(name, params).rowcount

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._conn.executemany(self._queries.text(name, rows[0]), [_adapt(r) for r in rows])

    def load(self, name: str, /, rows: Iterable[dict[str, Any]], *, alike: bool = False) -> None:
        """An ``executemany`` that takes each row as ``rows`` yields it (``alike`` or not:
        it binds each row's values by name)."""
        self._conn.executemany(self._queries.text(name, {}), (_adapt(r) for r in rows))

    def alone(self, name: str, /, **params: Any) -> list[Row]:
        return self.all(name, **params)

    def notify(self, channel: str, payload: str = "") -> None:
        self.notifications.append((channel, payload))

    def notified(self, channel: str, payload: str = "") -> None:
        self.notify(channel, payload)

    def one_snapshot(self) -> None:
        """Already so: a SQLite transaction reads one snapshot of the database."""

    def lazy_commit(self) -> None:
        """Nothing to relax: in WAL mode with ``synchronous=NORMAL`` no commit waits."""


class SQLiteListener:
    """Wake-ups for SQLite, which has no LISTEN/NOTIFY.

    This store's own commits reach it in process; other processes' (and other stores')
    commits arrive as datagrams on a wake socket (``wake.py``). When some were lost,
    ``drain`` reports ``wake.ANY``: re-check everything. A datagram can also be dropped
    unseen, so the owner still calls ``changed()`` (``PRAGMA data_version`` moved) every
    ``recheck_every`` seconds: seldom with a socket, every few milliseconds without one (a
    directory that cannot be used, a platform without Unix sockets).
    """

    #: how often the owner should look at ``changed()`` for commits nobody announced
    recheck_every: float

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._socket: WakeSocket | None = None
        if store.path != ":memory:":
            try:
                self._socket = WakeSocket(store.path)
            except OSError as exc:
                log.info("no wake socket for %s (%s); polling for other processes' "
                         "commits instead", store.path, exc)
        self.recheck_every = RECHECK_WITH_SOCKET if self._socket else RECHECK_WITHOUT
        self._read, self._write = os.pipe()  # this store's own commits, without a socket
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        try:
            self._conn = store._connect()
            self._version = self._data_version()
        except BaseException:
            self._close_descriptors()
            raise
        self._pending: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        store.add_local_listener(self._on_local)
        if self._socket is not None:
            store.own_sockets[self._socket.name] = os.getpid()

    def _data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _on_local(self, channel: str, payload: str) -> None:
        with self._lock:
            self._pending.append((channel, payload))
        if self._socket is not None:
            self._socket.poke()
            return
        with suppress(BlockingIOError):
            os.write(self._write, b"x")

    def changed(self) -> bool:
        """True when another process committed since the last call."""
        version = self._data_version()
        moved, self._version = version != self._version, version
        return moved

    def fileno(self) -> int:
        return self._socket.fileno() if self._socket is not None else self._read

    def drain(self) -> list[tuple[str, str]]:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass
        received = self._socket.receive() if self._socket is not None else []
        with self._lock:
            pending, self._pending = self._pending, []
        return pending + received

    def close(self) -> None:
        self._store.remove_local_listener(self._on_local)
        self._close_descriptors()
        self._conn.close()

    def _close_descriptors(self) -> None:
        os.close(self._read)
        os.close(self._write)
        if self._socket is not None:
            self._store.own_sockets.pop(self._socket.name, None)
            self._socket.close()


#: seconds a writer waits for this process's other writers, as ``busy_timeout`` does
_WRITE_WAIT = 60.0


class SQLiteStore(BaseStore):
    dialect = "sqlite"
    #: a file of the project's own: ``outlast dev``, the CLI and a local client migrate it
    embedded = True
    #: one writer at a time (``BEGIN IMMEDIATE``), committing in the order it began
    serial_writes = True
    #: transactions worth running at once in one process: writes take turns (see the
    #: module docstring), reads run beside them, so a few threads keep the database busy
    concurrency = 8

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.path = url.removeprefix("sqlite:///")
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        self._queries = QueryBook(load_queries("sqlite"))
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._writer = _WriterLock()
        self._wake = WakeSender(self.path) if self.path != ":memory:" else None
        #: this store's listeners' wake sockets (name → pid): they hear its commits in
        #: process, so no datagram goes to them (a forked copy of the store still sends)
        self.own_sockets: dict[str, int] = {}
        self._blobs: DirectoryBlobs | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=60)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=OFF")
        # migration 0008 hashes the token secrets it finds; SQLite has no SHA-256 of its own
        conn.create_function("outlast_sha256", 1, _sha256_hex, deterministic=True)
        with self._conns_lock:
            self._all_conns.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[SQLiteTx]:
        with self.one_transaction():
            conn = self._conn()
            with self._writer.held() if write else nullcontext():
                if write:
                    begin_immediate(conn)
                else:
                    conn.execute("BEGIN")
                tx = SQLiteTx(conn, self._queries)
                try:
                    yield tx
                    conn.execute("COMMIT")
                except BaseException:
                    self._roll_back(conn)
                    raise
        self.announce(tx.notifications)
        if self._wake is not None and tx.notifications:
            pid = os.getpid()
            self._wake.send(tx.notifications,  # every other listener of this file
                            skip=[n for n, p in self.own_sockets.items() if p == pid])

    def migrate(self) -> list[str]:
        conn = self._conn()
        conn.execute(
            "CREATE TABLE IF NOT EXISTS outlast_migrations (name TEXT PRIMARY KEY, applied_at REAL)"
        )
        conn.execute("BEGIN IMMEDIATE")
        try:
            applied = {r[0] for r in conn.execute("SELECT name FROM outlast_migrations")}

            def apply_one(name: str, sql: str) -> None:
                for statement in _split_statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO outlast_migrations VALUES (?, strftime('%s','now'))", (name,)
                )

            done = apply_all(self.dialect, applied, apply_one)
            conn.execute("COMMIT")
        except BaseException:
            self._roll_back(conn)
            raise
        return done

    def _roll_back(self, conn: sqlite3.Connection) -> None:
        """End the open transaction whatever ended its body, a failed ``COMMIT`` included.

        A transaction left open would keep this connection's write lock: every other
        writer of the file would wait for it, and this thread could open no other.
        """
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:  # a closed connection holds no lock; the next use opens one
            log.exception("could not roll a transaction back; closing its connection")
            conn.close()
            self._local.conn = None

    def compact(self) -> None:
        with self.one_transaction():  # VACUUM cannot run inside a transaction
            conn = self._conn()
            with self._writer.held():
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def reclaim(self, tables: list[str]) -> None:
        """Nothing to do: SQLite reuses a freed row's space for the next insert. Refused
        inside a transaction all the same, as on PostgreSQL, so code that works on one
        store works on the other."""
        with self.one_transaction():
            pass

    def listen(self, channels: list[str]) -> SQLiteListener:
        return SQLiteListener(self)

    def blob_store(self) -> DirectoryBlobs:
        """A directory beside the database file (``dev.db.blobs``); an in-memory
        database's goes to a temporary directory of this process."""
        if self._blobs is None:
            root = (tempfile.mkdtemp(prefix="outlast-blobs-") if self.path == ":memory:"
                    else os.path.abspath(self.path) + ".blobs")
            self._blobs = DirectoryBlobs(root)
        return self._blobs

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._all_conns:
                with suppress(sqlite3.Error):
                    conn.close()
            self._all_conns.clear()
        self._local = threading.local()


class _WriterLock:
    """This process's writers in turn; a new lock after a fork (a forked child must not
    inherit a lock some parent thread held at the time)."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._pid != os.getpid():
            self._pid, self._lock = os.getpid(), threading.Lock()
        lock = self._lock
        if not lock.acquire(timeout=_WRITE_WAIT):
            raise sqlite3.OperationalError("database is locked")  # as busy_timeout says
        try:
            yield
        finally:
            lock.release()


def _sha256_hex(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _split_statements(sql: str) -> list[str]:
    """Split a migration file on ``;`` at line ends (our migrations keep to that)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().strip(";")]
