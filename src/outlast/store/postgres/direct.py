"""A statement sent alone, prepared once per connection, through libpq without a cursor.

A single trigger is a transaction of one statement (``insert_runs``, see ``PostgresTx``)
on an autocommit connection, its parameters the run's values. Through a psycopg
cursor, made and closed for it, the client spends about 60% more CPU on it than on the
libpq calls it comes down to (the cursor and its adapters, the prepared-statement
bookkeeping, the result wrapped; ``bench/direct_statement.py``: 18 us against 11 us per
statement, 37 us against 28 us of wall time, the server's part the same). Here such a
statement is prepared under a name of its own the first time a connection runs it, then
each use is one Bind/Execute/Sync: the same messages a prepared psycopg execution sends.

Only a statement that casts each of its parameters wherever it uses one goes this way
(``:rows::json``, ``:priority::integer``): its values travel as untyped text and the casts
type them, so a text, a number (written as Python writes it, which PostgreSQL reads back
exactly) and None all mean what they mean through psycopg. A connection forgets its
prepared statements when psycopg deallocates its own (after a ``ROLLBACK`` or ``DISCARD
ALL``): the server then answers "prepared statement does not exist" before executing
anything, and the statement is prepared again and sent once more. Texts are encoded as
UTF-8, so only a connection in that client encoding (psycopg's and the server's usual one)
goes this way; a text holding a NUL does not either (libpq would cut it short there).
"""

from __future__ import annotations

import codecs
import functools
import hashlib
import re
import weakref
from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import errors, generators, pq

_PYFORMAT = re.compile(r"%\((\w+)\)([sb])(::)?|%%")
#: SQLSTATE 26000: a Bind named a statement the connection does not have
_NO_SUCH_STATEMENT = "26000"
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)


class Statement:
    """A query in psycopg's ``%(name)s`` style, as libpq takes it: ``$n`` placeholders,
    the parameters' names in their order, and the name it is prepared under."""

    def __init__(self, sql: str) -> None:
        order: list[str] = []
        uncast = False

        def placeholder(match: re.Match[str]) -> str:
            nonlocal uncast
            if match.group(0) == "%%":
                return "%"
            uncast = uncast or match.group(2) == "b" or match.group(3) is None
            if match.group(1) not in order:
                order.append(match.group(1))
            return f"${order.index(match.group(1)) + 1}{match.group(3) or ''}"

        self.text = _PYFORMAT.sub(placeholder, sql).encode()
        self.params = tuple(order)
        #: a parameter used without a cast (or sent in binary by psycopg): its type would
        #: depend on what psycopg makes of the value, so the statement is not for this path
        self.uncast = uncast
        digest = hashlib.sha1(self.text, usedforsecurity=False).hexdigest()
        self.name = f"outlast_{digest[:20]}".encode()

    def values(self, params: Mapping[str, Any]) -> list[bytes | None] | None:
        """The parameters as libpq takes them: texts, numbers as Python writes them, None;
        None when one is anything else (a list, a boolean) or a text holding a NUL, which
        libpq would cut short there (psycopg refuses it, as the server does)."""
        out: list[bytes | None] = []
        for name in self.params:
            value = params[name]
            kind = type(value)
            if value is None:
                out.append(None)
            elif kind is str:
                if "\x00" in value:
                    return None
                out.append(value.encode())
            elif kind is int or kind is float:
                out.append(repr(value).encode())
            else:
                return None
        return out


@functools.cache
def statement(sql: str) -> Statement:
    return Statement(sql)


#: the statements each connection has prepared (by name); None for a connection whose
#: client encoding is not UTF-8, which texts encoded here would not match: it never
#: takes this path (psycopg encodes for it)
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[bytes] | None] = (
    weakref.WeakKeyDictionary())


#: a connection ``_prepared`` has not seen yet
_UNSEEN: set[bytes] = set()


def execute(conn: psycopg.Connection[Any], sql: str, params: Mapping[str, Any]) -> bool:
    """Run ``sql`` with ``params`` on ``conn`` (not in pipeline mode), discarding its rows;
    False (and nothing sent) when the statement, its values or the connection are not
    for this path."""
    stmt = statement(sql)
    values = None if stmt.uncast else stmt.values(params)
    if values is None:
        return False
    prepared = _prepared.get(conn, _UNSEEN)
    if prepared is _UNSEEN:
        prepared = _prepared[conn] = (
            set() if codecs.lookup(conn.info.encoding).name == "utf-8" else None)
    if prepared is None:
        return False
    if stmt.name not in prepared:
        _prepare(conn, stmt)
        prepared.add(stmt.name)
    result = _run(conn, stmt, values)
    if result.status not in _OK and result.error_field(
            pq.DiagnosticField.SQLSTATE) == _NO_SUCH_STATEMENT.encode():
        _prepare(conn, stmt)  # deallocated since (see the module's docstring)
        result = _run(conn, stmt, values)
    _check(conn, result)
    return True


def _prepare(conn: psycopg.Connection[Any], stmt: Statement) -> None:
    conn.pgconn.send_prepare(stmt.name, stmt.text)
    for result in conn.wait(generators.execute(conn.pgconn)):
        _check(conn, result)


def _run(conn: psycopg.Connection[Any], stmt: Statement,
         values: list[bytes | None]) -> pq.abc.PGresult:
    conn.pgconn.send_query_prepared(stmt.name, values)
    results: list[pq.abc.PGresult] = conn.wait(generators.execute(conn.pgconn))
    return results[-1]


def _check(conn: psycopg.Connection[Any], result: pq.abc.PGresult) -> None:
    if result.status not in _OK:
        raise errors.error_from_result(result, encoding=conn.info.encoding)
