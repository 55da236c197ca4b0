"""Read a database's per-run rows directly, so a test sees what pruning left behind."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

#: each table that holds a run's rows, and the columns that name the run
RUN_COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("id",),
    "run_events": ("run_id",),
    "run_logs": ("run_id",),
    "attempts": ("run_id",),
    "run_journal": ("run_id",),
    "run_tags": ("run_id",),
    "run_stream_chunks": ("run_id",),
    "waitpoints": ("run_id", "created_by_run"),
    "alert_outbox": ("run_id",),
    "schedule_ticks": ("run_id",),
    "debounces": ("run_id",),
}


def _query(url: str, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return pg.execute(sql.replace("?", "%s"), params).fetchall()


def rows_of(url: str, run_ids: list[str]) -> dict[str, int]:
    """How many rows of each table belong to ``run_ids``."""
    counts: dict[str, int] = {}
    marks = ", ".join("?" for _ in run_ids)
    for table, columns in RUN_COLUMNS.items():
        where = " OR ".join(f"{c} IN ({marks})" for c in columns)
        [(n,)] = _query(url, f"SELECT count(*) FROM {table} WHERE {where}",
                        list(run_ids) * len(columns))
        counts[table] = int(n)
    return counts


def table_rows(url: str) -> dict[str, int]:
    """Every row of each per-run table, whoever it belongs to."""
    return {t: int(_query(url, f"SELECT count(*) FROM {t}", [])[0][0]) for t in RUN_COLUMNS}


def all_run_ids(url: str) -> set[str]:
    return {r[0] for r in _query(url, "SELECT id FROM runs", [])}
