"""Every PostgreSQL query fits psycopg's cache of converted statements.

psycopg turns a query's ``%(name)s`` placeholders into ``$n`` on the client before each
execution and keeps the result only for a text of at most ``MAX_CACHED_STATEMENT_LENGTH``
bytes (4,096); a longer one is parsed again at every execution, prepared or not. The claim
is the longest query and runs on every worker pass: at 4,421 bytes (a version of it with
its first starts apart) each claim of one run cost the client 100 µs more CPU (295 µs
against 189, ``bench/drain_interleaved.py``'s statements in a loop), more than the server
saved. The bound is checked on the text as sent: comments, indentation and blank lines
dropped (``compact``), placeholders converted, every optional line kept.
"""

from __future__ import annotations

import psycopg._queries

from outlast.store.postgres.store import to_pyformat
from outlast.store.queries import compact, load_queries

LIMIT = getattr(psycopg._queries, "MAX_CACHED_STATEMENT_LENGTH", 4096)


def test_every_postgres_query_is_short_enough_for_psycopgs_statement_cache() -> None:
    long = {name: size for name, sql in load_queries("postgres").items()
            if (size := len(to_pyformat(compact(sql)).encode())) > LIMIT}
    assert long == {}, f"over psycopg's {LIMIT} bytes: parsed again at every execution"
