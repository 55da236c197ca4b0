"""A real worker runs a run triggered inside the app's transaction once the app commits
(PostgreSQL: woken by the commit's NOTIFY; SQLite: by the file's changed data version)."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from outlast import Client
from outlast.engine import Engine
from outlast.sdk.transports import LocalTransport
from outlast.store import Store
from tests.worker.support import running_worker, wait_final


def app_connection(store: Store) -> Any:
    if store.url.startswith("sqlite:///"):
        return sqlite3.connect(store.url.removeprefix("sqlite:///"))
    return psycopg.connect(store.url)


def test_a_worker_runs_what_the_app_committed(store: Store) -> None:
    engine = Engine(store)
    client = Client(transport=LocalTransport(engine, "dev"))
    with running_worker(engine):
        conn = app_connection(store)
        dropped = client.tasks.trigger("hello-world", {"name": "dropped"}, connection=conn)
        conn.rollback()
        kept = client.tasks.trigger("hello-world", {"name": "app"}, connection=conn)
        conn.commit()
        conn.close()
        run = wait_final(engine, kept.id)
    assert (run["status"], run["output"]) == ("COMPLETED", {"greeting": "Hello, app!"})
    assert [r["id"] for r in engine.list_runs("dev", limit=10)[0]] == [kept.id]
    assert dropped.id != kept.id
