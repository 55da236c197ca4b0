"""Set-ups for version tests: versions registered, runs pinned, workers of a version.

Runs are pinned and workers say their version by changing rows directly: what a claim
and a worker's start do in production, done here without running either.
"""

from __future__ import annotations

import sqlite3

import psycopg

from outlast.engine import Engine
from outlast.engine import versions as registry
from tests.conftest import definition


def execute(engine: Engine, sql: str) -> None:
    """Change the database behind the engine's back (what no engine call does)."""
    store = engine.store
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.url.removeprefix("sqlite:///"))
        conn.execute(sql)
        conn.commit()
        conn.close()
    else:
        with psycopg.connect(store.url) as pg:
            pg.execute(sql.encode())


def add_version(engine: Engine, version: str, tasks: list[str], *, env: str = "dev",
                source: str = "worker", promote: bool | None = None) -> None:
    """Register ``version`` with ``tasks`` as a worker (or a deploy) does."""
    engine.register_tasks(env, [definition(t) for t in tasks])
    with engine.store.transaction() as tx:
        registry.register(tx, env, version, [definition(t) for t in tasks], source=source,
                          now=engine.clock.now(), promote=promote)


def register(engine: Engine, version: str, tasks: list[str], source: str = "worker",
             promote: bool | None = None, env: str = "dev") -> registry.Registered:
    """``version`` with ``tasks`` in the registry (and the tasks themselves, to trigger);
    what registering answered."""
    defs = [definition(t) for t in tasks]
    engine.register_tasks(env, defs)
    with engine.store.transaction() as tx:
        return registry.register(tx, env, version, defs, source=source,
                                 now=engine.clock.now(), promote=promote)


def set_state(engine: Engine, version: str, state: str, env: str = "dev") -> None:
    """Force a version's state (e.g. retired while runs are still pinned to it)."""
    execute(engine, f"UPDATE versions SET state = '{state}' "
                    f"WHERE environment = '{env}' AND version = '{version}'")


def pin(engine: Engine, run_id: str, version: str) -> None:
    execute(engine, f"UPDATE runs SET version = '{version}' WHERE id = '{run_id}'")


def pinned_to(engine: Engine, run_id: str, env: str = "dev") -> str | None:
    """The version a run is pinned to, as stored (a claim's rows do not carry it)."""
    with engine.store.transaction(write=False) as tx:
        row = tx.one("get_run", id=run_id, environment=env)
    assert row is not None
    return row["version"]  # type: ignore[no-any-return]


def live_worker(engine: Engine, worker_id: str, version: str, env: str = "dev") -> None:
    """A worker of ``version`` that has just heartbeated."""
    engine.register_worker(env, worker_id, {"hostname": "box", "pid": 7, "version": "0.1.0",
                                            "queues": ["*"], "concurrency": 4})
    execute(engine, f"UPDATE workers SET code_version = '{version}' WHERE id = '{worker_id}'")
