"""Beginning a write while another process holds SQLite's write lock: short, even steps.

SQLite's own busy handler (``busy_timeout``) sleeps 1, 2, 5, 10, … then 100 ms between
tries. A writer that has waited a while thus tries ten times a second, while writers of
other processes that just arrived try every few milliseconds, and under a steady stream of
writes (a worker claiming and recording, a client triggering batches) the one that waited
longest keeps losing. That writer was often the upkeep holder waking due sleeps: the wake
was measured up to half a second after the sleeps' due time on a busy database.

So ``BEGIN IMMEDIATE`` is tried again here, at most ``MAX_PAUSE`` apart, for as long as
the connection's ``busy_timeout`` says (then "database is locked", as SQLite says). A
try is one lock attempt on the file; a few hundred a second cost a waiting writer little.
Every other statement keeps ``busy_timeout`` (a read meets the lock only in rare cases,
such as recovering the WAL index, where SQLite's own handler is fine).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

#: seconds between the first tries, doubled up to ``MAX_PAUSE``
FIRST_PAUSE = 0.0002
MAX_PAUSE = 0.002
#: the store's ``PRAGMA busy_timeout`` (ms): how long a writer waits before giving up
BUSY_TIMEOUT_MS = 60_000


def pauses(first: float = FIRST_PAUSE, most: float = MAX_PAUSE) -> Iterator[float]:
    """The sleeps between tries: doubling from ``first``, never longer than ``most``."""
    pause = first
    while True:
        yield pause
        pause = min(pause * 2, most)


def begin_immediate(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``, retried while another connection holds the lock.

    Waits as long as the connection's ``busy_timeout`` says (and leaves it as it was),
    then raises SQLite's own "database is locked"; any other error at once.
    """
    timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    deadline = time.monotonic() + timeout_ms / 1000
    conn.execute("PRAGMA busy_timeout=0")
    try:
        for pause in pauses():
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not busy(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
    finally:
        conn.execute(f"PRAGMA busy_timeout={timeout_ms}")


def busy(exc: sqlite3.Error) -> bool:
    """Another connection holds the lock (``SQLITE_BUSY`` or one of its extended codes)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
