"""Outlast in the peer benchmark: W1, W1 bulk, W2 and W3 exactly as the peers measure them.

Uses the shared runner for CLI-worker peers (``common.bench_external``) from ``PEERS_DIR``,
so the workloads, the job bodies (``common.mark`` / ``mark_lat``), the timing and the emitted
fields are the peers' own.

    OUTLAST_STORE=pg|sqlite  (default pg)  -> peer name outlast_pg / outlast_sqlite
    OUTLAST_CONCURRENCY=4    worker children (warm processes)
    OUTLAST_PEER_SUFFIX=""   appended to the peer name (e.g. _c8 when comparing settings)
    OUTLAST_BENCH_ASYNC=1    the job bodies as ``async def`` (pgqueuer's are): peer name
                             gains ``_async``, runs share children as coroutines

W1: ``Client(database_url=...).tasks.trigger("noop", None)``, one call (one transaction) each.
W1 bulk: ``client.tasks.batch_trigger`` in chunks of 1,000 (the API's limit) into the
environment "bulk", which no worker consumes (like the peers' bulk queues); wiped by the next
clear. A separate environment rather than a separate queue, because 10,000 queued rows of
another queue in the worker's environment would sit in front of its claims (see RESULTS.md).
W2/W3: ``bench/run_worker.py`` started as a separate process (the Supervisor with warm
children forked from a fork server), so W2 includes process start-up like the CLI peers.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _peers import load_common  # noqa: E402

C = load_common()

STORE = os.environ.get("OUTLAST_STORE", "pg")
CONC = int(os.environ.get("OUTLAST_CONCURRENCY", 4))
ASYNC = "_async" if os.environ.get("OUTLAST_BENCH_ASYNC") == "1" else ""
PEER = f"outlast_{STORE}{ASYNC}{os.environ.get('OUTLAST_PEER_SUFFIX', '')}"
BULK_ENV = "bulk"
PG_DB = os.environ.get("OUTLAST_PG_DB", "bench_outlast")
SQLITE_PATH = os.path.join(C.DIR, "outlast.db")
URL = C.PG + "/" + PG_DB if STORE == "pg" else "sqlite:///" + SQLITE_PATH
RUN_TABLES = ("runs", "run_tags", "run_events", "attempts", "run_logs")
BULK_CHUNK = 1000


def fresh_database() -> None:
    if STORE == "pg":
        import psycopg

        with psycopg.connect(C.PG + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_DB}")
    else:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(SQLITE_PATH + suffix)


def clear() -> None:
    """Delete every run (and its events, attempts, tags, logs); task definitions stay."""
    if STORE == "pg":
        import psycopg

        with psycopg.connect(URL, autocommit=True) as conn:
            conn.execute("TRUNCATE " + ", ".join(RUN_TABLES))
    else:
        conn = sqlite3.connect(SQLITE_PATH, timeout=60)
        try:
            with conn:
                for table in RUN_TABLES:
                    conn.execute(f"DELETE FROM {table}")
        finally:
            conn.close()


def main() -> None:
    from outlast import Client
    from outlast.engine import Engine
    from outlast.store import open_store

    fresh_database()
    store = open_store(URL)
    store.migrate()
    sys.path.insert(0, str(HERE))
    from tasks import bench_tasks  # the module the worker's children import

    engine = Engine(store)
    engine.register_tasks("dev", [bench_tasks.noop.definition(), bench_tasks.lat.definition()])
    engine.register_tasks(BULK_ENV, [bench_tasks.noop.definition()])
    store.close()

    client = Client(database_url=URL, environment="dev")
    bulk_client = Client(database_url=URL, environment=BULK_ENV)
    trigger = client.tasks.trigger
    batch_trigger = bulk_client.tasks.batch_trigger

    def bulk(n: int) -> None:
        # the phase on the wall clock, to set beside bench/pg_background.py's samples
        C.log(f"{PEER}: bulk phase starts {time.time():.3f}")
        for start in range(0, n, BULK_CHUNK):
            k = min(BULK_CHUNK, n - start)
            batch_trigger("noop", [{"payload": None}] * k)
        C.log(f"{PEER}: bulk phase ends {time.time():.3f}")

    C.bench_external(
        PEER,
        f"{'PostgreSQL' if STORE == 'pg' else 'SQLite (WAL)'}; worker: bench/run_worker.py "
        f"(Supervisor, concurrency={CONC} warm children forked from a fork server); "
        "W1 = Client(database_url).tasks.trigger; "
        "bulk = tasks.batch_trigger x1000 into an unconsumed environment",
        enqueue=lambda: trigger("noop", None),
        enqueue_lat=lambda t0: trigger("lat", t0),
        clear=clear,
        bulk=bulk,
        worker_cmd=[sys.executable, str(HERE / "run_worker.py"), URL,
                    "--concurrency", str(CONC)],
    )
    client.close()
    bulk_client.close()


if __name__ == "__main__":
    main()
