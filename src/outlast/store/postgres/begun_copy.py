"""A ``COPY … FROM STDIN`` sent in one query with the statements that open its transaction.

A bulk load that is its transaction's first statement (``batch_trigger``'s) needs
``BEGIN`` before its ``COPY``. Sent apart, through psycopg, that is a round trip of its
own (pipeline mode entered and left for it), then the ``COPY``'s, before the server sees
a row. Here both go in one simple query (``BEGIN; COPY …``: the server runs the first,
then answers that it waits for the copy's data), and the first chunk of rows is made
while that answer travels. psycopg's ``Cursor.copy`` takes a single statement only, so
the copy is driven through libpq with psycopg's own generators, as its ``Copy`` does:
the same messages, the same waits, and on an error of the caller's while the rows are
made, the same ``CopyFail`` (the server ends the copy and the transaction fails, to be
rolled back by its owner).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import errors, generators, pq
from psycopg.adapt import Transformer

from outlast.store.protocol import Row

#: the most handed to libpq at once (psycopg's own limit: larger buffers can loop in libpq)
_MAX_PUT = 128 * 1024
#: bytes handed to libpq between waits for them to be flushed (psycopg's ``Copy``'s)
_FLUSH_EVERY = 1024 * 1024
_COPY_IN = pq.ExecStatus.COPY_IN
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_FATAL = pq.ExecStatus.FATAL_ERROR


def copy_begun(conn: psycopg.Connection[Any], query: str, data: Iterator[str],
               answered: Callable[[Row | None], None] | None = None) -> None:
    """Run ``query`` (statements, then a text ``COPY … FROM STDIN`` last) and send
    ``data``'s chunks as the copy's data; the first chunk is made while the server
    answers. An error of the server's is raised as psycopg raises it; one raised by
    ``data`` fails the copy on the server and is raised on.

    ``answered``: given the first row of the last statement before the ``COPY`` that
    returns rows, before the first chunk is made (the rows may need it), so that chunk
    waits for the server's answer.
    """
    pgconn = conn.pgconn
    encoding = conn.info.encoding
    with conn.lock:
        pgconn.send_query(query.encode(encoding))
        conn.wait(generators.send(pgconn))
        if answered is not None:
            answered(_started(conn, encoding))
        try:
            first = next(data, "")
        except BaseException as failed:
            if answered is None:
                _started(conn, encoding)  # the server's refusal, if any, comes first
            _fail(conn, failed)
            raise
        if answered is None:
            _started(conn, encoding)
        try:
            _put(conn, first, data, encoding)
        except BaseException as failed:
            _fail(conn, failed)
            raise
        conn.wait(generators.copy_end(pgconn, None))


def _started(conn: psycopg.Connection[Any], encoding: str) -> Row | None:
    """Read the answers up to the copy's start; raise the server's error if it has one.
    The first row of the last statement that returned rows, if any."""
    results = conn.wait(generators.fetch_many(conn.pgconn))
    row: Row | None = None
    for result in results:
        if result.status == _FATAL:
            raise errors.error_from_result(result, encoding=encoding)
        if result.status == _TUPLES_OK:
            row = _first_row(conn, result)
    if not results or results[-1].status != _COPY_IN:
        raise psycopg.ProgrammingError("the query did not end in a COPY FROM STDIN")
    return row


def _first_row(conn: psycopg.Connection[Any], result: pq.abc.PGresult) -> Row | None:
    """A result's first row, its values loaded as a cursor's would be."""
    if not result.ntuples:
        return None
    loading = Transformer.from_context(conn)
    loading.set_pgresult(result)
    values = loading.load_sequence([result.get_value(0, i) for i in range(result.nfields)])
    return {(result.fname(i) or b"").decode(): value for i, value in enumerate(values)}


def _put(conn: psycopg.Connection[Any], first: str, rest: Iterator[str],
         encoding: str) -> None:
    """Hand ``first``, then each chunk of ``rest``, to libpq as copy data."""
    pgconn = conn.pgconn
    unflushed = 0
    chunk: str | None = first
    while chunk is not None:
        data = chunk.encode(encoding)
        for start in range(0, len(data), _MAX_PUT):
            piece = data[start:start + _MAX_PUT]
            unflushed += len(piece)
            flush = unflushed >= _FLUSH_EVERY
            if flush:
                unflushed = 0
            conn.wait(generators.copy_to(pgconn, piece, flush))
        chunk = next(rest, None)


def _fail(conn: psycopg.Connection[Any], failed: BaseException) -> None:
    """End the copy with ``failed``'s message (the server cancels it, as psycopg's
    ``Copy`` has it do)."""
    message = f"error from Python: {type(failed).__qualname__} - {failed}"
    with contextlib.suppress(errors.QueryCanceled):  # the server's answer to it
        conn.wait(generators.copy_end(conn.pgconn, message.encode(conn.info.encoding,
                                                                  "replace")))
