"""Which database errors are the platform's passing trouble, and which are real.

A transient fault is one that the same statement, tried again a little later, can get
past: the server restarting or dropping connections, the pool out of connections, a
serialization conflict, SQLite busy past its timeout. It says nothing about the task or
its input, so it must never count against a run's retries. Anything else (a constraint,
bad input, a syntax error) is a real error: the task's, or a bug, and stays visible.

``is_transient`` is pure (it reads only the exception) so a table of cases pins it.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

#: SQLSTATE classes of faults that pass: connection exception, transaction rollback
#: (serialization, deadlock), insufficient resources, operator intervention (shutdown,
#: restart, canceled), system error
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
#: single SQLSTATEs that pass: lock not available, read-only while a replica is promoted
_TRANSIENT_STATES = frozenset({"55P03", "25006"})
#: SQLite messages of a database busy or briefly unreachable
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database is busy",
                     "disk i/o error", "unable to open database file")


def is_transient(exc: BaseException) -> bool:
    """Is ``exc`` a database fault that trying again later can get past?"""
    psycopg = sys.modules.get("psycopg")  # a process that never loaded it has no such error
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return _postgres_transient(exc)
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return any(text in message for text in _SQLITE_TRANSIENT)
    return False


#: SQLSTATEs of a statement the server stopped and rolled back, so that nothing of its
#: transaction committed: serialization failure and deadlock (class 40), lock not available,
#: query canceled (a statement timeout)
_ROLLED_BACK_CLASSES = frozenset({"40"})
_ROLLED_BACK_STATES = frozenset({"55P03", "57014"})


def rolled_back(exc: BaseException) -> bool:
    """Is ``exc`` an error the server raised while the transaction was still open, so that
    it surely did not commit (unlike a lost connection, which may have followed COMMIT)?"""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None or not isinstance(exc, psycopg.Error) or exc.sqlstate is None:
        return False
    return exc.sqlstate[:2] in _ROLLED_BACK_CLASSES or exc.sqlstate in _ROLLED_BACK_STATES


def _postgres_transient(exc: psycopg.Error) -> bool:
    import psycopg

    state = exc.sqlstate
    if state is None:  # raised by the client: no connection, lost connection, pool empty
        # a pipeline aborted by an earlier statement's error: that error was the real one
        return isinstance(exc, psycopg.OperationalError) and \
            not isinstance(exc, psycopg.errors.PipelineAborted)
    return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES
