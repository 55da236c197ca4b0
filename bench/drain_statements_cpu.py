"""PostgreSQL's CPU per run for the two statements of a worker's steady drain, alone.

    .venv/bin/python bench/drain_statements_cpu.py [--runs 10000] [--batch 64] \\
        [--drop-index NAME ...]

Queues ``--runs`` runs (batch triggers), then on one connection claims ``--batch`` at a
time with ``claim_unlimited`` as a worker of version ``v1`` would, and completes them with
``complete_runs_logged`` (the statements and parameters the engine sends: see
``engine/transitions.py``), until none is left. Prints the server backend's CPU (user +
system, read from ``/proc``: run it on the database's machine) per run for each statement.
No worker, no Python task code, no notifications: only what the statements cost. With
``--drop-index``, the named indexes are dropped after migrating: the same statements on a
schema without them, to price an index (alternate runs with and without; the machine's
other load moves the figures by ±15 %).
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from typing import Any

import psycopg
from _databases import fresh_database
from psycopg.rows import dict_row

from outlast import Client, task
from outlast.engine import Engine
from outlast.store import open_store
from outlast.store.postgres.store import to_pyformat
from outlast.store.queries import QueryBook, load_queries

ENV = "dev"
HZ = os.sysconf("SC_CLK_TCK")
QUERIES = QueryBook(load_queries("postgres"), to_pyformat)


@task(id="noop")
def noop(payload: Any) -> None:
    """The run every drain measures: nothing to do, so only the bookkeeping is left."""


def backend_cpu(pid: int) -> float:
    """Seconds of CPU the server process ``pid`` has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def claim(conn: psycopg.Connection[Any], batch: int) -> list[dict[str, Any]]:
    now = time.time()
    params = {"environment": ENV, "now": now, "limit": batch,
              "lease_id": "lease_" + uuid.uuid4().hex, "lease_expires_at": now + 30,
              "worker_id": "worker_bench", "version": "v1", "tasks": ["noop"]}
    rows = conn.execute(QUERIES.text("claim_unlimited", params), params).fetchall()
    return [r for r in rows if r["id"]]


def complete(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> int:
    params = {"now": time.time(), "ids": [r["id"] for r in rows],
              "lease_ids": [r["lease_id"] for r in rows], "outputs": ["null"] * len(rows),
              "executed": [0.001] * len(rows), "costs": [1e-8] * len(rows),
              "attempts": [r["attempt_count"] for r in rows]}
    return len(conn.execute(QUERIES.text("complete_runs_logged", params), params).fetchall())


def drain(url: str, batch: int) -> dict[str, float]:
    """Claim and complete until nothing is queued; CPU seconds and runs."""
    spent = {"claim": 0.0, "complete": 0.0, "runs": 0.0}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("VACUUM ANALYZE runs")
        pid = conn.info.backend_pid
        while True:
            before = backend_cpu(pid)
            rows = claim(conn, batch)
            claimed = backend_cpu(pid)
            if not rows:
                return spent
            assert complete(conn, rows) == len(rows)
            spent["claim"] += claimed - before
            spent["complete"] += backend_cpu(pid) - claimed
            spent["runs"] += len(rows)


def prepare(url: str, runs: int, dropped: list[str]) -> None:
    store = open_store(url)
    store.migrate()
    engine = Engine(store)
    engine.register_tasks(ENV, [noop.definition()])
    engine.register_version(ENV, "worker_bench", "v1", [noop.definition()], source="worker")
    store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in dropped:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(name)))
    client = Client(database_url=url, environment=ENV)
    for start in range(0, runs, 1000):
        client.tasks.batch_trigger("noop", [{"payload": None}] * min(1000, runs - start))
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--drop-index", action="append", default=[])
    args = ap.parse_args()
    with fresh_database("pg", "outlast_bench_drain_statements") as url:
        prepare(url, args.runs, args.drop_index)
        spent = drain(url, args.batch)
    runs = spent["runs"] or 1
    print(json.dumps({
        "bench": "drain_statements_cpu", "runs": int(spent["runs"]), "batch": args.batch,
        "dropped": args.drop_index,
        "claim_cpu_ms_per_run": round(spent["claim"] / runs * 1000, 4),
        "complete_cpu_ms_per_run": round(spent["complete"] / runs * 1000, 4),
        "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
