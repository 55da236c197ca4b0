"""Blobs in the ``blobs`` table: PostgreSQL's default blob store (migration 0020).

A value is cut into parts of 1 MiB, one row each, written in one transaction of this
store's own connection: never the caller's, which may hold the row that will reference
the value (written first, committed before that row commits). Its small pool opens at the
first blob, so a project that never has one holds no connection for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from outlast.errors import NotFoundError
from outlast.store.blobs.protocol import CHUNK, blob_owner, check_key
from outlast.store.postgres.target import PostgresTarget
from outlast.store.queries import load_queries

#: parts one read of a stream fetches (and holds in memory) at a time
_PARTS_PER_READ = 4


class TableBlobs:
    def __init__(self, target: PostgresTarget) -> None:
        from outlast.store.postgres.store import to_pyformat

        queries = load_queries("postgres")
        self._sql = {k: to_pyformat(v) for k, v in queries.items() if k.startswith("blob_")}
        self._target = target
        self.location = f"the blobs table ({target.schema or 'public'} schema)"
        self._pool: ConnectionPool[Any] | None = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(self._target.conninfo, min_size=1, max_size=4,
                                            kwargs={"row_factory": dict_row}, open=True)
        return self._pool.connection(timeout=10.0)

    def put(self, key: str, data: bytes) -> None:
        owner, now = blob_owner(check_key(key)), time.time()
        rows = [{"key": key, "part": i, "run_id": owner, "now": now,
                 "data": data[start:start + CHUNK]}
                for i, start in enumerate(range(0, max(len(data), 1), CHUNK))]
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(self._sql["blob_put_part"], rows)

    def get(self, key: str) -> bytes:
        return b"".join(self.stream(key))

    def stream(self, key: str) -> Iterator[bytes]:
        first, found = 0, False
        while True:
            with self._connection() as conn:
                rows = conn.execute(self._sql["blob_parts"],
                                    {"key": key, "first": first, "limit": _PARTS_PER_READ}
                                    ).fetchall()
            if not rows and not found:
                raise NotFoundError(f"no blob {key!r} in {self.location}")
            for row in rows:
                found = True
                yield bytes(row["data"])
            if len(rows) < _PARTS_PER_READ:
                return
            first = rows[-1]["part"] + 1

    def delete_runs(self, run_ids: list[str]) -> int:
        if not run_ids:
            return 0
        deleted = 0
        with self._connection() as conn, conn.transaction():
            for run_id in run_ids:
                deleted += bool(conn.execute(self._sql["blob_delete_run"],
                                             {"run_id": run_id}).rowcount)
        return deleted

    def owners(self, older_than: float = 0.0) -> list[str]:
        before = time.time() - older_than
        with self._connection() as conn:
            return [r["run_id"] for r in conn.execute(self._sql["blob_owners_before"],
                                                      {"before": before}).fetchall()]

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


__all__ = ["TableBlobs"]
