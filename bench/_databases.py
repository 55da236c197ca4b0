"""A fresh database per benchmark run, on SQLite or PostgreSQL (shared by the benches)."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

PG_ADMIN = os.environ.get("OUTLAST_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def fresh_database(store: str, name: str) -> Iterator[str]:
    """The URL of an empty database: a temporary SQLite file, or PostgreSQL database
    ``name`` created anew (and dropped afterwards)."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(drop)
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    user, host = info.get("user", "postgres"), info.get("host", "127.0.0.1")
    try:
        yield f"postgresql://{user}@{host}:{info.get('port', '5432')}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(drop)


def query(url: str, text: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one plain SQL read on either store (``?`` placeholders), on a connection of
    its own, so a bench can sample a database its server and workers are busy with."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=60)
        try:
            return conn.execute(text, params).fetchall()
        finally:
            conn.close()
    with psycopg.connect(url) as pg:
        return pg.execute(text.replace("?", "%s"), params).fetchall()
