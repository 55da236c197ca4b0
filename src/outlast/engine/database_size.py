"""How big the database is: the run tables' rows and bytes, and the oldest finished run.

What retention is for is a database that stops growing; these are the numbers that show
it does (the Workers page's Database card and ``GET /metrics``). Each store reads them
its own way (the ``table_sizes`` query): PostgreSQL from its catalog, without reading the
tables (rows are the estimate VACUUM and ANALYZE keep), SQLite from its pages (``dbstat``)
with exact counts, which reads every page of these tables: a caller that asks often keeps
the answer a while (``server/metrics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from outlast.store.protocol import Row

if TYPE_CHECKING:
    from outlast.engine import Engine

#: the tables that grow with every run, and that retention prunes
TABLES: tuple[str, ...] = ("runs", "run_events", "attempts", "run_logs", "run_journal",
                           "run_tags", "waitpoints", "run_stream_chunks", "blobs")


@dataclass(frozen=True)
class TableSize:
    table: str
    #: None: not known yet (PostgreSQL counts a table at its first VACUUM or ANALYZE)
    rows: int | None
    #: the table's pages with its indexes (PostgreSQL: and its TOAST)
    bytes: int


@dataclass(frozen=True)
class OldestFinished:
    """The finished run kept longest in one environment (None: none is kept)."""

    environment: str
    run_id: str | None
    finished_at: float | None

    def age(self, now: float) -> float | None:
        return None if self.finished_at is None else max(0.0, now - self.finished_at)


@dataclass(frozen=True)
class DatabaseSize:
    tables: tuple[TableSize, ...]
    #: True where rows are the store's estimate (PostgreSQL), False where counted (SQLite)
    rows_estimated: bool

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.tables)


def table_sizes(engine: Engine) -> DatabaseSize:
    """Every table of ``TABLES`` the schema has, in that order."""
    with engine.store.transaction(write=False) as tx:
        found = {str(r["name"]): r for r in tx.all("table_sizes", tables=list(TABLES))}
    tables = tuple(_size(found[name]) for name in TABLES if name in found)
    return DatabaseSize(tables, rows_estimated=any(bool(r["estimated"]) for r in found.values()))


def _size(row: Row) -> TableSize:
    rows = row["rows"]
    return TableSize(str(row["name"]), None if rows is None else int(rows), int(row["bytes"] or 0))


def oldest_finished(engine: Engine, env: str) -> OldestFinished:
    with engine.store.transaction(write=False) as tx:
        row = tx.one("oldest_finished_run", environment=env)
    if row is None:
        return OldestFinished(env, None, None)
    return OldestFinished(env, str(row["id"]), float(row["finished_at"]))
