"""Read a database's schema in one comparable shape for both dialects."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

Schema = dict[str, Any]


def read_schema(url: str) -> Schema:
    """{"tables": {table: ["column TYPE [COLLATE name] [NOT NULL]", ...]}, "indexes": [...]}.

    A PostgreSQL column's collation is given where it is not the database's default (the
    identifiers', "C"); SQLite's columns compare as bytes, its default."""
    if url.startswith("sqlite:///"):
        return _sqlite(url.removeprefix("sqlite:///"))
    return _postgres(url)


def _sqlite(path: str) -> Schema:
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        tables = {
            name: [_column(c[1], c[2].upper(), bool(c[3] or c[5]))
                   for c in conn.execute(f'PRAGMA table_info("{name}")')]
            for name in names
        }
        indexes = sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
    finally:
        conn.close()
    return {"tables": tables, "indexes": indexes}


def _postgres(url: str) -> Schema:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name, upper(data_type), is_nullable = 'NO', "
            "collation_name "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "ORDER BY table_name, ordinal_position").fetchall()
        indexes = sorted(r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"))
    tables: dict[str, list[str]] = {}
    for table, column, kind, not_null, collation in rows:
        kind = kind if collation is None else f"{kind} COLLATE {collation}"
        tables.setdefault(table, []).append(_column(column, kind, not_null))
    return {"tables": tables, "indexes": indexes}


def _column(name: str, kind: str, not_null: bool) -> str:
    return f"{name} {kind}{' NOT NULL' if not_null else ''}"


def applied_migrations(url: str) -> list[str]:
    """Names recorded in ``outlast_migrations``, in order."""
    query = "SELECT name FROM outlast_migrations ORDER BY name"
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return [r[0] for r in conn.execute(query)]
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return [r[0] for r in pg.execute(query)]
