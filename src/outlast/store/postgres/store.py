"""PostgreSQL store: what a team runs in production, many servers and workers on one queue.

Claims use ``FOR UPDATE SKIP LOCKED`` so concurrent workers never block on each other's
rows; ``pg_notify`` inside the writing transaction wakes idle workers the moment a run is
queued (delivered on commit, so a woken worker always sees the row).

A transaction of one statement (a trigger: ``insert_runs`` writes the run, its event and
tags, and sends its notifications) is sent alone on the autocommit connection, prepared:
one round trip once it is prepared on that connection (the first use waits for the parse
too), committed as it ends; through libpq without a cursor when it casts all its
parameters (``direct.py``). Any other runs in pipeline mode: statements whose
results nobody reads (inserts, notifications) are queued and travel together, and the
client waits for the server only where the engine needs an answer (rows, or a guarded
update's row count) and once at the end. A bulk load (``load``: ``COPY``, which pipeline
mode cannot carry) makes the transaction a block, leaves pipeline mode for the copy and
enters it again for what follows. What the server receives up to one Sync message
is one transaction, committed at the Sync, so a transaction that waits for no answer sends
neither ``BEGIN`` nor ``COMMIT``: its statements and the Sync are one round trip. Before the
first answer, which needs a Sync of its own, ``BEGIN`` turns what was sent so far into a
transaction block that lasts until ``COMMIT`` (``PostgresTx``). Durability is the server's:
``synchronous_commit`` stays as configured (see docs on turning it off per role if losing
the last few commits on a crash is acceptable).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import ConnectionPool, PoolTimeout

from outlast.readiness import has_input, readable
from outlast.store.base import BaseStore
from outlast.store.migrate import apply_all
from outlast.store.postgres import arrays, direct
from outlast.store.postgres.begun_copy import copy_begun
from outlast.store.postgres.blobs import TableBlobs
from outlast.store.postgres.outbox import NOTIFY_SQL, Outbox, carries_notifications
from outlast.store.postgres.target import PostgresTarget, parse_target
from outlast.store.protocol import Row
from outlast.store.queries import QueryBook, load_queries, migration_names

#: a lazy commit's setting, sent first in its transaction's block
_LAZY_COMMIT = "SET LOCAL synchronous_commit = off"

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
#: a ``load`` query: ``COPY table (columns) FROM STDIN`` (text format) after its comment
#: lines
_COPY = re.compile(r"^COPY\s+(\w+)\s*\(([^)]*)\)\s+FROM\s+STDIN\s*\Z", re.MULTILINE)
#: a statement taking this parameter is given whether the commit may be lazy
#: (``lazy_commit``): it sets ``synchronous_commit`` itself when it is sent ``alone``
LAZY_PARAM = "lazy"
_LAZY_PLACEHOLDER = f"%({LAZY_PARAM})s"
_MIGRATION_LOCK = 7_262_001  # advisory lock id: one migrator at a time
#: a pooled connection idle longer than this is checked (one empty query) before use
_CHECK_AFTER_IDLE = 5.0
#: seconds to wait for a connection when none can be had (the server is away): a
#: worker's single loop must get the error and go on, not hang the pool's default 30 s
CHECKOUT_TIMEOUT = 5.0


def to_pyformat(sql: str) -> str:
    """``:name`` → ``%(name)s``; ``::casts`` and literal ``%`` are kept. A list for a
    parameter cast to an array type wherever it appears is sent as the array's literal
    (``arrays.with_literals``)."""
    return _PARAM.sub(lambda m: f"%({m[1]})s", sql.replace("%", "%%"))


class PostgresTx:
    #: data-modifying CTEs: a claim records its starts and a batch completion its
    #: attempts and events in the statement itself
    compound_writes = True
    #: the runs list's indexes leave EXECUTING (migration 0028) and QUEUED (0029) runs out
    statuses_apart = frozenset({"EXECUTING", "QUEUED"})

    def __init__(self, conn: psycopg.Connection[Row], queries: QueryBook,
                 target: PostgresTarget) -> None:
        self._conn = conn
        self._queries = queries
        self._outbox = Outbox(target)
        #: where pipeline mode is entered, at the second statement (made then: a trigger,
        #: one statement, never needs it); the store closes it (the closing Sync) once the
        #: transaction is finished or abandoned (``end``)
        self._scope: ExitStack | None = None
        self._pipeline: psycopg.Pipeline | None = None
        #: pipeline mode's own scope, closed early when a ``COPY`` has to leave it
        self._pipeline_scope: ExitStack | None = None
        #: the first statement that needs no answer, kept back: if nothing follows it is
        #: the whole transaction and goes alone (see ``finish``)
        self._held: tuple[str, dict[str, Any]] | None = None
        #: ``BEGIN`` was sent: the transaction lasts until ``COMMIT``, not the next Sync
        self._block = False
        #: ``lazy_commit`` was asked for (applied with the first statement sent)
        self._lazy = False
        #: ``one_snapshot`` was asked for (``BEGIN ISOLATION LEVEL REPEATABLE READ``)
        self._snapshot = False
        #: ``alone`` ran: the transaction is committed, nothing more may be sent
        self._done = False
        #: a ``COPY`` is under way (``load``): statements are queued, ready to send, in
        #: ``_after_load`` (``many``), and nothing else may be sent
        self._loading = False
        self._after_load: list[tuple[str, dict[str, Any]]] = []
        #: a ``one_deferred`` query not sent yet, and the list its answer goes to
        self._deferred: tuple[str, list[Row | None]] | None = None

    @property
    def notifications(self) -> dict[tuple[str, str], None]:
        """Every notification of this transaction (announced in process after commit)."""
        return self._outbox.all

    def _pipelined(self) -> psycopg.Pipeline:
        """Pipeline mode from here on; a lazy commit's setting, then the held statement
        go first."""
        if self._done:
            raise RuntimeError("this transaction is committed (alone): nothing may follow")
        if self._loading:
            raise RuntimeError("a load is under way: only many() may queue statements")
        if self._pipeline is None:
            if self._scope is None:
                self._scope = ExitStack()
            self._pipeline_scope = self._scope.enter_context(ExitStack())
            self._pipeline = self._pipeline_scope.enter_context(self._conn.pipeline())
            if self._lazy:
                self._hold_open()  # SET LOCAL outside a block only warns
                self._conn.cursor().execute(_LAZY_COMMIT.encode())
            if self._held is not None:
                self._send(*self._held).close()
                self._held = None
        return self._pipeline

    def _send(self, name: str, params: dict[str, Any],
              answered: bool = False) -> psycopg.Cursor[Any]:
        """Execute; a statement that carries notifications takes those collected so far
        (``outbox``). A write whose answer nobody reads is prepared at once (parsed and
        planned once per connection, as ``executemany`` does) and its rows, if any, are
        left as tuples; others are prepared after psycopg's threshold of uses."""
        sql = self._queries.text(name, params)
        return self._execute(sql, self._filled(sql, params), answered)

    def _execute(self, sql: str, filled: dict[str, Any],
                 answered: bool = False) -> psycopg.Cursor[Any]:
        cur: psycopg.Cursor[Any] = (self._conn.cursor() if answered
                                    else self._conn.cursor(row_factory=tuple_row))
        cur.execute(sql, filled, prepare=None if answered else True)
        return cur

    def _filled(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` and what the store gives: the notifications (``outbox``) and, for a
        statement that takes it, whether the commit may be lazy (``:lazy``)."""
        params = self._outbox.fill(sql, arrays.with_literals(sql, params))
        if _LAZY_PLACEHOLDER in sql:
            return {**params, LAZY_PARAM: self._lazy}
        return params

    def _hold_open(self) -> None:
        """Keep the transaction open past the next Sync: ``BEGIN`` makes what was sent so
        far and all that follows one transaction block (the server starts a transaction
        at the first statement after a Sync; ``BEGIN`` inside it makes it a block)."""
        if not self._block:
            self._conn.cursor().execute(self._begin().encode())
            self._block = True

    def _begin(self) -> str:
        """The statement that opens this transaction's block."""
        return "BEGIN ISOLATION LEVEL REPEATABLE READ" if self._snapshot else "BEGIN"

    def _answered(self, name: str, params: dict[str, Any]) -> psycopg.Cursor[Row]:
        """Execute and wait for the answer (everything queued before goes with it)."""
        pipeline = self._pipelined()
        self._hold_open()
        cur = self._send(name, params, answered=True)
        pipeline.sync()
        return cur

    def one(self, name: str, /, **params: Any) -> Row | None:
        with self._answered(name, params) as cur:
            return cur.fetchone() if _answered_rows(cur) else None

    def one_deferred(self, name: str, /) -> Callable[[], Row | None]:
        """Kept until the next ``load``, which sends it in the query that opens the
        transaction, if nothing was sent before (``_opens``) and none is kept already;
        else ``one`` now."""
        answer: list[Row | None] = []
        if self._opens() and self._deferred is None:
            self._deferred = (name, answer)
        else:
            answer.append(self.one(name))

        def answered() -> Row | None:
            if not answer:
                self._ask_deferred()
            return answer[0]
        return answered

    def _ask_deferred(self) -> None:
        """The deferred query, asked on its own (no load took it along)."""
        if self._deferred is not None:
            (name, answer), self._deferred = self._deferred, None
            answer.append(self.one(name))

    def _opens(self) -> bool:
        """Whether the next statement is the transaction's first (nothing sent or held)."""
        return self._pipeline is None and self._held is None and not self._block \
            and not self._done

    def all(self, name: str, /, **params: Any) -> list[Row]:
        with self._answered(name, params) as cur:
            return cur.fetchall() if _answered_rows(cur) else []

    def run(self, name: str, /, **params: Any) -> int:
        with self._answered(name, params) as cur:
            return cur.rowcount

    def alone(self, name: str, /, **params: Any) -> list[Row]:
        """``all`` for the transaction's last statement, committed in the same round trip.

        When nothing was sent before it, it goes alone on the autocommit connection and
        is committed as it ends: no ``BEGIN``, ``COMMIT`` or notification statement (it
        sends its own notes, ``notified``; a lazy commit needs its ``:lazy``, which sets
        ``synchronous_commit`` for its transaction). Otherwise it goes in the pipeline
        with the notifications left and ``COMMIT``, all answered at one Sync (the one
        leaving pipeline mode). Either way nothing may follow it.
        """
        sql = self._queries.text(name, params)
        if self._pipeline is not None or self._block or self._held is not None \
                or self._outbox.pending or (self._lazy and _LAZY_PLACEHOLDER not in sql):
            return self._last(name, params)
        with self._conn.cursor() as cur:
            cur.execute(sql, self._filled(sql, params), prepare=True)
            rows = cur.fetchall() if _answered_rows(cur) else []
        self._done = True
        return rows

    def _last(self, name: str, params: dict[str, Any]) -> list[Row]:
        """``alone`` in a transaction already under way: the statement, the remaining
        notifications and ``COMMIT`` travel together."""
        self._pipelined()  # the held statement and a lazy commit's setting go first
        self._hold_open()
        with self._send(name, params, answered=True) as cur:
            self.send_notifications()
            self._conn.cursor().execute(b"COMMIT")
            self._leave_pipeline()  # its Sync: the one round trip of all of the above
            self._done = True
            return cur.fetchall() if _answered_rows(cur) else []

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None:
        """Queued in the pipeline: sent with the next statement that needs an answer.
        The transaction's first such statement is held back instead (``finish``)."""
        if not rows:
            return
        if self._loading:  # written now, sent when the COPY ends (``load``)
            for row in rows:
                sql = self._queries.text(name, row)
                self._after_load.append((sql, self._filled(sql, row)))
            return
        if self._pipeline is None and self._held is None and len(rows) == 1:
            self._held = (name, rows[0])
            return
        self._pipelined()
        if len(rows) == 1:
            self._send(name, rows[0]).close()
            return
        sql = self._queries.text(name, rows[0])
        with self._conn.cursor() as cur:
            cur.executemany(sql, self._outbox.fill_many(sql, rows))

    def load(self, name: str, /, rows: Iterable[dict[str, Any]], *, alike: bool = False) -> None:
        """``COPY … FROM STDIN`` (the query ``name``) of ``rows``, each the values of the
        statement's columns by name, sent as ``rows`` yields them, in ``COPY``'s text
        format (``CopyIn.text``).

        The server inserts each 64 kB of rows while the next are still being made and
        sent (a binary ``COPY``'s it holds until it has 1,000): no statement, plan or
        parameter per row, and the client's work on the rows overlaps the server's.
        ``COPY`` cannot run in pipeline mode: the
        transaction becomes a block first (``BEGIN``, so that the Sync of leaving pipeline
        mode commits nothing), and statements after it enter a new pipeline. Each
        ``COPY`` waits for the server once, at its end. ``alike`` rows' shared values are
        read from the first alone (``CopyIn.text``). A load that is the transaction's
        first statement (a bulk trigger's) sends ``BEGIN`` in one query with its ``COPY``
        (``begun_copy``): one round trip fewer, and the first rows are made during it. A
        ``one_deferred`` query goes in that query too, before the ``COPY``; the rows are
        then made once its answer is in. Not opening the transaction, the load asks for
        it first, alone: the rows cannot ask while the ``COPY`` streams.
        """
        copy = copy_in(self._queries.text(name, {}))
        data = copy.text(rows, alike=alike)
        begun = self._opens()
        if not begun:
            self._ask_deferred()  # before the rows are made: they may need its answer
            self._pipelined()  # the held statement goes first
            self._hold_open()
            self._leave_pipeline()
        self._loading = True
        try:
            if begun:
                self._block = True
                lead, answered = self._deferred_lead()
                copy_begun(self._conn, self._opening() + lead + copy.statement, data,
                           answered)
            else:
                copy_text(self._conn, copy.statement, data)
        finally:
            self._loading = False
            queued, self._after_load = self._after_load, []
        if queued:
            self._pipelined()
            for sql, filled in queued:
                self._execute(sql, filled).close()

    def _deferred_lead(self) -> tuple[str, Callable[[Row | None], None] | None]:
        """The deferred query as a statement of the load's opening query, and what takes
        its answer (none: "", None)."""
        if self._deferred is None:
            return "", None
        (name, answer), self._deferred = self._deferred, None
        return self._queries.text(name, {}) + "; ", answer.append

    def _opening(self) -> str:
        """What ``_pipelined`` and ``_hold_open`` would send before a transaction's first
        statement, as statements of one query: ``BEGIN``, and a lazy commit's setting."""
        return f"{self._begin()}; " + (f"{_LAZY_COMMIT}; " if self._lazy else "")

    def _leave_pipeline(self) -> None:
        """Out of pipeline mode (its Sync waits for everything sent so far)."""
        if self._pipeline_scope is not None:
            scope, self._pipeline_scope, self._pipeline = self._pipeline_scope, None, None
            scope.close()

    def notify(self, channel: str, payload: str = "") -> None:
        self._outbox.add(channel, payload)

    def notified(self, channel: str, payload: str = "") -> None:
        self._outbox.sent(channel, payload)

    def one_snapshot(self) -> None:
        """``REPEATABLE READ`` for this transaction: its statements share the snapshot of
        its first (under ``READ COMMITTED`` each takes its own)."""
        self._snapshot = True

    def lazy_commit(self) -> None:
        """``synchronous_commit = off`` for this transaction only: its commit skips the
        WAL flush (about 0.6 ms here); the next ordinary commit flushes it too. Sent with
        the first statement (``SET LOCAL`` in a block), or by the statement itself when
        it is the transaction (``alone``)."""
        self._lazy = True

    def finish(self) -> None:
        """End a transaction that succeeded.

        One that is a single statement (a trigger: the run, its event and tags, and its
        notifications in ``insert_runs``) goes alone, outside pipeline mode: the server
        commits it as it ends, in one round trip and with the least work on either side.
        Otherwise queue its remaining notifications, then ``COMMIT`` if it is a block
        (else the closing Sync commits it).
        """
        if self._done:  # notes asked for after ``alone`` (``notify``): sent, not lost
            self.send_notifications()
            return
        if self._pipeline is None and not self._block and self._alone():
            return
        self._pipelined()
        self.send_notifications()
        if self._block:
            self._conn.cursor().execute(b"COMMIT")

    def _alone(self) -> bool:
        """Send the transaction as one autocommitted statement, if it is one: with text
        parameters (a trigger's), prepared through libpq without a cursor (``direct``). A
        lazy commit needs a block for its setting: such a transaction is not one."""
        if self._held is None:
            self.send_notifications()
            return True
        if self._lazy:
            return False
        name, params = self._held
        sql = self._queries.text(name, params)
        if self._outbox.pending and not carries_notifications(sql):
            return False
        self._held = None
        values = self._outbox.fill(sql, params)
        if not direct.execute(self._conn, sql, values):
            with self._conn.cursor(row_factory=tuple_row) as cur:
                cur.execute(sql, values, prepare=True)
        return True

    def abandon(self) -> None:
        """End a transaction that failed: the closing Sync must not commit what was
        queued. Nothing was sent before pipeline mode (a held statement is dropped).
        ``BEGIN`` first when it is not a block, so that ``ROLLBACK`` ends one instead of
        warning that none is open (after an error on the server both are skipped, and
        the Sync rolls back)."""
        if self._done or (self._pipeline is None and not self._block):
            self._held = None
            return
        self._hold_open()
        self._conn.cursor().execute(b"ROLLBACK")

    def end(self, kind: type[BaseException] | None, error: BaseException | None,
            tb: TracebackType | None) -> None:
        """Leave pipeline mode if it was entered (its closing Sync), told how the
        transaction ended, as a ``with`` block around it would be."""
        scope, self._scope = self._scope, None
        if scope is not None:
            scope.__exit__(kind, error, tb)

    def send_notifications(self) -> None:
        """One statement for the notifications not sent yet, just before commit."""
        if self._outbox.pending:
            self._conn.cursor(row_factory=tuple_row).execute(
                NOTIFY_SQL, (self._outbox.take(),), prepare=True)


class PostgresListener:
    """A dedicated autocommit connection that LISTENs; its socket goes into select()."""

    #: every commit's notifications arrive (or the connection fails, and says so)
    recheck_every = math.inf

    def __init__(self, target: PostgresTarget, channels: list[str]) -> None:
        self._target = target
        self._conn = psycopg.connect(target.conninfo, autocommit=True)
        for channel in channels:
            self._conn.execute(f'LISTEN "{target.channel(channel)}"')

    def fileno(self) -> int:
        return self._conn.fileno()

    def drain(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if not readable(self._conn.fileno()):
            return out
        for note in self._conn.notifies(timeout=0):
            out.append((self._target.local_channel(note.channel), note.payload))
        return out

    def changed(self) -> bool:
        """Nothing goes unannounced: no reason to re-read."""
        return False

    def close(self) -> None:
        self._conn.close()


class PostgresStore(BaseStore):
    dialect = "postgres"
    #: a server shared by many processes and machines, migrated on purpose
    embedded = False
    #: transactions commit concurrently: ids become visible out of order
    serial_writes = False

    def __init__(self, url: str, min_size: int = 1, max_size: int = 10) -> None:
        super().__init__(url)  # as given, ``?schema=`` included: children reopen from it
        self.target = parse_target(url)
        #: one transaction per pooled connection; more threads would queue for the pool
        self.concurrency = max_size
        self._queries = QueryBook(load_queries("postgres"), to_pyformat)
        self._pool = ConnectionPool(
            self.target.conninfo,
            min_size=min_size,
            max_size=max_size,
            # transactions are begun and committed by hand (``PostgresTx``)
            kwargs={"row_factory": dict_row, "autocommit": True},
            open=True,
            check=_check_if_idle,
        )
        self._blobs: TableBlobs | None = None
        self._spare = _Spare(self._pool)

    def transaction(self, write: bool = True) -> _Transaction:
        return _Transaction(self)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Row]]:
        """One of the store's connections, as a transaction gets it (the one the last
        transaction used, if it is free), for a caller that drives it itself (a test
        watching the protocol, a tool); given back when the block ends. Idle again by
        then, as a transaction leaves it."""
        conn = self._checkout()
        try:
            yield conn
        finally:
            self._checkin(conn)

    def _checkout(self) -> psycopg.Connection[Row]:
        """A connection for one transaction (``PostgresTx``): the one the last transaction
        left (``_Spare``), else one from the pool."""
        return self._spare.take() or self._from_pool()

    def _checkin(self, conn: psycopg.Connection[Row]) -> None:
        """A transaction's connection, ended: kept for the next one, or back to the pool."""
        self._spare.keep(conn)

    def _from_pool(self) -> psycopg.Connection[Row]:
        """A pooled connection.

        A connection that turns out dead at checkout (the server restarted: its goodbye
        waits on the socket, see ``_check_if_idle``) is dropped and the next one tried, so
        callers see an error only when the server is really gone. No connection to be had
        at all (``PoolTimeout``) is that error at once: asking again would only wait as
        long again. While this waits, no connection is kept back from the pool
        (``_Spare.wanted``).
        """
        with self._spare.wanted():
            return self._pool_checkout()

    def _pool_checkout(self) -> psycopg.Connection[Row]:
        for attempt in itertools.count():
            try:
                return cast("psycopg.Connection[Row]",
                            self._pool.getconn(timeout=CHECKOUT_TIMEOUT))
            except PoolTimeout:
                raise
            except psycopg.OperationalError:
                if attempt >= self._pool.max_size:
                    raise
        raise AssertionError("unreachable")

    def migrate(self) -> list[str]:
        with psycopg.connect(self.target.conninfo, autocommit=True) as conn:
            if _migrated(conn, self.dialect):
                return []  # a worker's start on a migrated database: one read, no lock
            with conn.transaction():
                return self._migrate(conn)

    def _migrate(self, conn: psycopg.Connection[Any]) -> list[str]:
        """Apply what is pending under the migration lock (one migrator at a time)."""
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        if self.target.schema:  # a name checked by parse_target: safe to splice
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.target.schema}".encode())
        conn.execute(
            "CREATE TABLE IF NOT EXISTS outlast_migrations "
            "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        applied = {r[0] for r in conn.execute("SELECT name FROM outlast_migrations")}

        def apply_one(name: str, sql: str) -> None:
            conn.execute(sql.encode())
            conn.execute("INSERT INTO outlast_migrations (name) VALUES (%s)", (name,))

        return apply_all(self.dialect, applied, apply_one)

    def compact(self) -> None:
        with self.one_transaction(), \
                psycopg.connect(self.target.conninfo, autocommit=True) as conn:
            conn.execute(_VACUUM)

    def reclaim(self, tables: list[str]) -> None:
        names = sql.SQL(", ").join(sql.Identifier(t) for t in tables)
        with self.one_transaction(), \
                psycopg.connect(self.target.conninfo, autocommit=True) as conn:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(names))

    def listen(self, channels: list[str]) -> PostgresListener:
        return PostgresListener(self.target, channels)

    def blob_store(self) -> TableBlobs:
        """The ``blobs`` table, on a small pool of its own (see ``postgres/blobs.py``)."""
        if self._blobs is None:
            self._blobs = TableBlobs(self.target)
        return self._blobs

    def close(self) -> None:
        if self._blobs is not None:
            self._blobs.close()
        self._spare.close()
        self._pool.close()


#: seconds a connection goes from transaction to transaction without going back to the
#: pool; then it does, where the pool's own rules (its lifetime) apply to it
SPARE_SECONDS = 60.0


class _Spare:
    """The connection the last transaction used, kept for the next instead of going back
    to the pool: a single trigger is one statement, and the pool's ``getconn`` and
    ``putconn`` (their locks, statistics, logging and checks) cost it about a tenth of the
    client's time. Checked as the pool checks a connection it hands out
    (``_check_if_idle``).

    A connection is kept only while no thread waits for one from the pool (``wanted``),
    under one lock with the look for it: a thread that finds nothing here counts itself
    as waiting before it asks the pool, so none ever waits for a connection sitting here.
    """

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None
        self._waiting = 0
        self._closed = False
        #: when each connection handed out from the pool left it (by ``id``)
        self._left_pool: dict[int, float] = {}

    def take(self) -> psycopg.Connection[Any] | None:
        """The kept connection, checked; None when there is none (or it failed its check:
        back to the pool, which drops a broken one)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return None
        try:
            _check_if_idle(conn)
        except Exception:  # noqa: BLE001 - as the pool does: that one is not handed out
            self._give_back(conn)
            return None
        return conn

    @contextmanager
    def wanted(self) -> Iterator[None]:
        """Around a wait for the pool: nothing is kept back meanwhile."""
        with self._lock:
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    def keep(self, conn: psycopg.Connection[Any]) -> None:
        """Keep ``conn`` (idle, its transaction ended) for the next transaction, unless one
        is kept already, a thread waits for the pool, it is not idle, or it has gone
        without the pool long enough: then back to the pool."""
        now = time.monotonic()
        _last_used[id(conn)] = now
        left = self._left_pool.setdefault(id(conn), now)
        if now - left < SPARE_SECONDS and conn.pgconn.transaction_status == _IDLE:
            with self._lock:
                if self._conn is None and not self._waiting and not self._closed:
                    self._conn = conn
                    return
        self._give_back(conn)

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        self._left_pool.pop(id(conn), None)
        self._pool.putconn(conn)

    def close(self) -> None:
        """Back to the pool for good (before the pool closes): nothing is kept from now."""
        with self._lock:
            conn, self._conn, self._closed = self._conn, None, True
        if conn is not None:
            self._give_back(conn)


class _Transaction:
    """``PostgresStore.transaction``: a pooled connection, a ``PostgresTx`` on it, and
    its end (finished, or abandoned when the block raised; the connection rolled back if
    an error left a block open, then put back; the commit's notifications announced in
    process). A class rather than nested generator context managers (the thread's one
    transaction, the transaction, its pipeline's scope): each of those was a round of
    Python machinery per trigger, and a trigger is one statement."""

    __slots__ = ("_conn", "_store", "_tx")

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def __enter__(self) -> PostgresTx:
        store = self._store
        store.open_one()
        try:
            conn = self._conn = store._checkout()
        except BaseException:
            store.close_one()
            raise
        self._tx = PostgresTx(conn, store._queries, store.target)
        return self._tx

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        store, conn, tx = self._store, self._conn, self._tx
        try:
            try:
                if kind is None:
                    tx.finish()
                else:
                    tx.abandon()
            except BaseException as failed:
                tx.end(type(failed), failed, failed.__traceback__)
                raise
            tx.end(kind, error, tb)
        except BaseException:
            _roll_back_if_open(conn)
            raise
        else:
            if kind is not None:  # the block's own error, raised on from here
                _roll_back_if_open(conn)
        finally:
            store._checkin(conn)
            store.close_one()
        if kind is None:
            store.announce(tx.notifications)


@dataclass(frozen=True)
class CopyIn:
    """A ``load`` query: its ``COPY`` statement, and how a row's values are written.

    The first ``OWN_COLUMNS`` columns are each row's own (a run's id and payload); the
    others' text is written once for the rows that repeat their values (``text``).
    """

    statement: str
    table: str
    columns: tuple[str, ...]
    #: a row's values of its own columns, and of the others, in order
    own: Callable[[dict[str, Any]], tuple[Any, ...]]
    rest: Callable[[dict[str, Any]], tuple[Any, ...]]

    def text(self, rows: Iterable[dict[str, Any]], *, alike: bool = False) -> Iterator[str]:
        """``rows`` as ``COPY`` text data, ``COPY_CHUNK`` characters or so at a time
        (the first ``FIRST_COPY_CHUNK``).

        The text of a row's other columns is looked up by their values (a tuple's hash;
        for a batch's runs the same objects again, compared by identity): equal values are
        written alike whatever their type, so an int column must be given ints, never
        ``1.0`` or ``True`` (which the binary format refused too). ``alike`` rows have
        the first one's: its text is every row's, and the others' are not read.
        """
        own, rest = self.own, self.rest
        tails: dict[tuple[Any, ...], str] = {}
        last: tuple[Any, ...] | None = None  # the values the last row's tail was written of
        tail = ""
        lines: list[str] = []
        size = 0
        chunk = FIRST_COPY_CHUNK
        for row in rows:
            if last is None or not alike:
                values = rest(row)
                if values != last:  # the same objects again (a batch's): no hash, no lookup
                    last = values
                    tail = tails.get(values) or tails.setdefault(
                        values, "\t" + "\t".join(map(copy_value, values)) + "\n")
            first, second = own(row)
            # text that needs no escape (an id, most payloads) as it stands, inline
            if type(first) is not str or not first.isprintable() or "\\" in first:
                first = copy_value(first)
            if type(second) is not str or not second.isprintable() or "\\" in second:
                second = copy_value(second)
            line = f"{first}\t{second}{tail}"
            lines.append(line)
            size += len(line)
            if size >= chunk:
                yield "".join(lines)
                lines.clear()
                size, chunk = 0, COPY_CHUNK
        if lines:
            yield "".join(lines)


#: columns at the start of a ``load`` query that each row has its own value of
OWN_COLUMNS = 2
#: characters of text data handed to the connection at a time
COPY_CHUNK = 32 * 1024
#: the first chunk's: the server starts on the rows sooner (libpq sends 8 kB at a time)
FIRST_COPY_CHUNK = 8 * 1024


@functools.cache
def copy_in(sql: str) -> CopyIn:
    """The text ``COPY … FROM STDIN`` of a ``load`` query (without its comment lines)."""
    found = _COPY.search(sql)
    if found is None:
        raise ValueError(f"not a COPY ... FROM STDIN query: {sql!r}")
    columns = tuple(c.strip() for c in found.group(2).split(","))
    # itemgetter of one key gives the value, not a tuple of it
    if len(columns) < OWN_COLUMNS + 2:
        raise ValueError(f"a COPY of fewer than {OWN_COLUMNS + 2} columns: {sql!r}")
    return CopyIn(found.group(0), found.group(1), columns,
                  operator.itemgetter(*columns[:OWN_COLUMNS]),
                  operator.itemgetter(*columns[OWN_COLUMNS:]))


#: what ``COPY``'s text format escapes in a value: its separators and the escape itself
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NOT_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def copy_value(value: Any) -> str:
    """A value as a field of ``COPY``'s text format: ``\\N`` for NULL, text escaped."""
    kind = type(value)
    if kind is str:
        # tab, newline and carriage return are not printable: all four are looked for
        text: str = value
        return text if text.isprintable() and "\\" not in text \
            else text.translate(_COPY_ESCAPES)
    if value is None:
        return "\\N"
    if kind is int:
        return repr(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else _NOT_FINITE.get(value, "NaN")
    if kind is bool:
        return "t" if value else "f"
    if isinstance(value, str):  # a subclass's (an enum's) own text
        return copy_value(str.__str__(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return copy_value((int if isinstance(value, int) else float)(value))
    raise TypeError(f"cannot COPY a {kind.__name__}: {value!r}")


def copy_text(conn: psycopg.Connection[Any], statement: str, data: Iterable[str]) -> None:
    """Send ``data`` (``CopyIn.text``) through a text ``COPY``."""
    with conn.cursor() as cur, cur.copy(statement) as out:
        for chunk in data:
            out.write(chunk)


def _migrated(conn: psycopg.Connection[Any], dialect: str) -> bool:
    """Every migration of ``dialect`` is applied (False: the table is not there yet)."""
    try:
        applied = {r[0] for r in conn.execute("SELECT name FROM outlast_migrations")}
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return False
    return set(migration_names(dialect)) <= applied


def _answered_rows(cur: psycopg.Cursor[Any]) -> bool:
    """Whether the statement answered rows (a ``SELECT`` or ``RETURNING``), read from its
    result's status: ``cur.description`` says the same but first makes an object for each
    column (42 for a claim's rows, a quarter of the client's work on the answer).
    """
    result = cur.pgresult
    return result is not None and result.status == _TUPLES_OK


def _roll_back_if_open(conn: psycopg.Connection[Row]) -> None:
    """Roll back a transaction block an error left open (a failed ``COMMIT``, a statement
    that failed after the last answer), so the pool gets the connection back idle.

    ``conn.transaction()`` would have waited for the server after ``BEGIN`` and again
    around ``COMMIT`` (four round trips for a trigger): ``PostgresTx`` spells the
    transaction out on an autocommit connection instead, and this is its way out on error.
    """
    if conn.info.transaction_status in _OPEN:
        conn.rollback()


_TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK
_OPEN = (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR)
_IDLE = psycopg.pq.TransactionStatus.IDLE

#: the tables retention deletes from (``compact``); VACUUM runs outside a transaction
_VACUUM = (b"VACUUM (ANALYZE) runs, run_events, run_logs, attempts, run_journal, run_tags, "
           b"run_stream_chunks, waitpoints, alert_outbox, schedule_ticks, debounces")

_last_used: dict[int, float] = {}


def _check_if_idle(conn: psycopg.Connection[Any]) -> None:
    """Pool ``check`` hook: an empty query only when a connection looks doubtful.

    A busy worker reuses its connection every few milliseconds, so checking every checkout
    would add a round trip to every transaction. Instead the check costs nothing unless the
    socket has something to say (a terminated backend sends its goodbye and closes; a
    pooled connection never LISTENs, so nothing else arrives) or it sat idle a while.
    """
    last = _last_used.pop(id(conn), None)
    idle = last is None or time.monotonic() - last > _CHECK_AFTER_IDLE
    if idle or has_input(conn.fileno()):
        ConnectionPool.check_connection(conn)
