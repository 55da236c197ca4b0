"""The narrow interface the engine uses to talk to a database: everything it relies on.

The engine never sees SQL: it calls named queries (``tx.one("get_run", id=...)``) whose
text lives in ``queries.sql`` (shared) and the dialect's own ``queries.sql`` (a test checks
that both dialects define the same names). Where the dialects behave differently in a way
the engine must know, the store says so through a member declared here, named for what it
means (``Store.serial_writes``, ``Tx.compound_writes``, ``Tx.statuses_apart``,
``Listener.recheck_every``);
nothing outside the store asks which dialect it is, or probes for a member.

``tests/store/test_contract.py`` runs every member against both dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from outlast.store.blobs.protocol import BlobStore

Row = dict[str, Any]


class NestedTransactionError(RuntimeError):
    """A transaction was opened while this thread already had one open on the store.

    A programming error, never the database's: the inner transaction would either join the
    outer one (SQLite: its notifications went with neither) or take a second pooled
    connection that waits on the outer one's row locks (PostgreSQL). Pass the open ``Tx``
    down instead.
    """


class Tx(Protocol):
    """One open transaction."""

    #: whether one named query may write several tables (PostgreSQL's data-modifying CTEs).
    #: When it may, a claim's queries record the starts they make (attempt rows, events,
    #: rate-window starts) and ``complete_runs_logged`` writes its attempts and events;
    #: when it may not (SQLite), the caller writes them itself, in the same transaction.
    compound_writes: bool

    #: the statuses whose runs the runs list's indexes leave out, so that a list or count
    #: that includes them reads them apart and merges them with the others: PostgreSQL's
    #: EXECUTING runs (0028: a started run then enters 3 indexes instead of 13; ``list_runs``
    #: with ``executing``, the others ``not_executing``) and QUEUED ones (0029: a run loaded
    #: in bulk enters 6 instead of 10; ``queued``, the others ``not_queued``). SQLite's
    #: indexes hold every run, and its planner reads split pages worse: none there.
    statuses_apart: frozenset[str]

    def one(self, name: str, /, **params: Any) -> Row | None:
        """The first row of the answer, or None.

        A writing statement with ``RETURNING`` answers rows like a ``SELECT`` and has run
        to its end when this returns: every row it matched is written, not only the first.
        """
        ...

    def all(self, name: str, /, **params: Any) -> list[Row]:
        """Every row of the answer (also a writing statement's ``RETURNING`` rows)."""
        ...

    def one_deferred(self, name: str, /) -> Callable[[], Row | None]:
        """``one`` of a query without parameters, whose answer is read when the returned
        function is first called (then kept).

        PostgreSQL sends it with a ``load`` that opens the transaction, in the same query
        as the ``COPY``: one round trip for both, where asking first costs one of its own
        (a bulk load's rows hold an event id taken for them, ``next_event_id``). Asked
        for before a load, or with no load to come, it is ``one`` then.
        """
        ...

    def run(self, name: str, /, **params: Any) -> int:
        """Execute and return the number of rows affected (a guard that held: 1, not 0)."""
        ...

    def alone(self, name: str, /, **params: Any) -> list[Row]:
        """``all`` for a statement that is the whole transaction, or its last: nothing may
        be sent after it, and notifications it needs must be its own (``notified``).

        A store that can commits it as it ends, in the same round trip (PostgreSQL, when
        nothing was sent before it): a worker's claim then costs one round trip instead
        of two. Where it cannot, this is ``all`` and the transaction ends as usual.
        """
        ...

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None:
        """Execute once per parameter row; nothing is answered (an empty list: nothing)."""
        ...

    def load(self, name: str, /, rows: Iterable[dict[str, Any]], *, alike: bool = False) -> None:
        """Insert ``rows`` in bulk, the fastest way the dialect has; nothing is answered.

        ``name`` is a ``load_*`` query; its rows must not conflict with any (no ``ON
        CONFLICT``). ``rows`` may be a generator: PostgreSQL streams each row as it comes
        (``COPY``), so the caller's work on the next rows overlaps the server's on these.
        ``alike``: the rows have the first one's values in all but the query's first two
        columns (a batch's runs, made from one set of values): PostgreSQL reads those once.
        While ``rows`` makes them, it may queue statements with ``many`` (nothing else):
        they are written after the loaded rows, in the same transaction. PostgreSQL writes
        their parameters' text at once, while the server is still inserting the rows sent
        before, and sends them when the ``COPY`` ends.
        """
        ...

    def notify(self, channel: str, payload: str = "") -> None:
        """Deliver ``payload`` to listeners of ``channel`` once this transaction commits.

        Nothing is delivered when it rolls back.
        """
        ...

    def notified(self, channel: str, payload: str = "") -> None:
        """A notification a statement of this transaction sent itself (``pg_notify`` in a
        compound statement): announced in process after the commit as ``notify``'s are,
        not sent again."""
        ...

    def one_snapshot(self) -> None:
        """Make every read of this transaction see the same moment (before its first
        statement): a read made of several statements, such as a page of runs read in
        parts by status, must not miss a run that moved from one part to another
        between them."""
        ...

    def lazy_commit(self) -> None:
        """Let this transaction's commit return before it is on disk.

        Only for writes whose loss in a database *crash* is harmless (a clean restart
        loses nothing): a worker's claim, which would then simply be claimed again.
        """
        ...


#: a note a listener reports when it knows it missed some: anything may have changed
ANY_CHANNEL = "*"


class Listener(Protocol):
    """Wakes a process when another one wrote something it cares about.

    Its owner waits on ``fileno()`` (``select``), then calls ``drain()``. A listener that
    may miss a notification unseen (SQLite's datagrams) also answers ``changed()``: the
    owner calls it every ``recheck_every`` seconds and re-reads everything when it says
    True. One that hears every commit has ``recheck_every = math.inf``.
    """

    #: seconds between the owner's calls of ``changed()``; ``math.inf``: never needed
    recheck_every: float

    def fileno(self) -> int: ...

    def drain(self) -> list[tuple[str, str]]:
        """Pending (channel, payload) notifications; never blocks.

        (``ANY_CHANNEL``, "") among them means some were lost: re-check everything.
        """
        ...

    def changed(self) -> bool:
        """True when something was committed since the last call that may not have been
        announced; always False for a listener that hears every commit."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    #: names the dialect's own query and migration files (``sqlite``, ``postgres``); the
    #: engine never branches on it: it asks the members below
    dialect: str
    #: the URL the store was opened from; child processes reopen the store from it
    url: str
    #: transactions worth running at once from one process (the server sizes its
    #: handler threads by it): more only wait inside the store, at a cost in CPU
    concurrency: int
    #: the database is one file of this project's own, reached by nobody else, so opening
    #: it may bring its schema up to date; a shared server is migrated on purpose
    #: (``outlast migrate``)
    embedded: bool
    #: writers commit one at a time, in the order they began: a row's id taken in a
    #: writing transaction is visible before any id taken after it. False (PostgreSQL):
    #: a lower id can become visible after a higher one, so a reader that follows ids
    #: must stay behind the newest ones until their transactions have settled
    serial_writes: bool

    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]:
        """Open a transaction; commit when the block ends, roll back when it raises.

        ``write=False`` promises to write nothing (SQLite then takes no writer's lock).
        One per thread at a time: opening one inside another raises
        ``NestedTransactionError``.
        """
        ...

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""
        ...

    def compact(self) -> None:
        """Give back the space of rows deleted in bulk (``outlast prune --vacuum``).

        SQLite: ``VACUUM`` rewrites the file without the free pages (it needs that much
        free disk again and holds the database while it runs), then the write-ahead log is
        truncated. PostgreSQL: ``VACUUM (ANALYZE)`` of the tables retention deletes from:
        their space is reusable at once and the planner's counts are fresh; the files keep
        their size. Not inside a transaction.
        """
        ...

    def reclaim(self, tables: list[str]) -> None:
        """Make the dead rows of ``tables`` reusable now (upkeep's ``Reclaimer``, when
        they pile up faster than the database clears them by itself).

        PostgreSQL: ``VACUUM (ANALYZE)`` of those tables, which clears the dead entries
        the claim's partial indexes keep for every run that left QUEUED, and counts the
        rows for the planner; a short lock that lets reads and writes go on. SQLite:
        nothing (an updated or deleted row's space is reused at once). Not inside a
        transaction; ``tables`` must be names from ``engine/reclaiming.py``.
        """
        ...

    def listen(self, channels: list[str]) -> Listener: ...

    def add_local_listener(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(channel, payload)`` after commits made by this process."""
        ...

    def remove_local_listener(self, callback: Callable[[str, str], None]) -> None:
        """Stop calling ``callback``; one never added is ignored."""
        ...

    def blob_store(self) -> BlobStore:
        """The blob store that lives with this database when no other is configured:
        SQLite, a directory beside its file (``dev.db`` → ``dev.db.blobs/``); PostgreSQL,
        its ``blobs`` table. The same object each call; closed with the store."""
        ...

    def close(self) -> None: ...
