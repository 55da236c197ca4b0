"""Helpers for version tests: registering versions, setting a state, raw SQL."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from outlast.engine import Engine
from outlast.engine import versions as registry
from tests.conftest import definition


def register(engine: Engine, version: str, tasks: list[str], source: str = "worker",
             promote: bool | None = None, env: str = "dev") -> registry.Registered:
    """``version`` with ``tasks`` in the registry (and the tasks themselves, to trigger)."""
    defs = [definition(t) for t in tasks]
    engine.register_tasks(env, defs)
    with engine.store.transaction() as tx:
        return registry.register(tx, env, version, defs, source=source,
                                 now=engine.clock.now(), promote=promote)


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """One statement straight on the database (``?`` placeholders on both stores)."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, params)
        return
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(statement.replace("?", "%s"), params)  # type: ignore[arg-type]


def set_state(url: str, version: str, state: str, env: str = "dev") -> None:
    """Force a version's state (a retirement, before ``outlast versions retire`` exists)."""
    execute(url, "UPDATE versions SET state = ? WHERE environment = ? AND version = ?",
            (state, env, version))
