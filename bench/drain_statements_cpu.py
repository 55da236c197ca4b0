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
from outlast.engine.events import CHANGED_CHANNEL
from outlast.store import open_store
from outlast.store.postgres.store import to_pyformat
from outlast.store.queries import QueryBook, load_queries

ENV = "dev"
QUERIES = QueryBook(load_queries("postgres"), to_pyformat)


@task(id="noop")
def noop(payload: Any) -> None:
    """The run every drain measures: nothing to do, so only the bookkeeping is left."""


def backend_cpu(pid: int) -> float:
    """Seconds of CPU the server process ``pid`` has used (``schedstat``: nanoseconds,
    where ``stat`` counts 10 ms ticks, a tenth of a drain's figure)."""
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0]) / 1e9


def claim(conn: psycopg.Connection[Any], batch: int) -> list[dict[str, Any]]:
    now = time.time()
    params = {"environment": ENV, "now": now, "limit": batch,
              "lease_id": "lease_" + uuid.uuid4().hex, "lease_expires_at": now + 30,
              "worker_id": "worker_bench", "version": "v1", "tasks": ["noop"],
              "changed_channel": CHANGED_CHANNEL, "lazy": False,
              "start_data": json.dumps({"worker_id": "worker_bench"})}
    rows = conn.execute(QUERIES.text("claim_unlimited", params), params, prepare=True).fetchall()
    return [r for r in rows if r["id"]]


def complete(conn: psycopg.Connection[Any], rows: list[dict[str, Any]]) -> int:
    params = {"now": time.time(), "ids": [r["id"] for r in rows],
              "lease_ids": [r["lease_id"] for r in rows], "outputs": ["null"] * len(rows),
              "executed": [0.001] * len(rows), "costs": [1e-8] * len(rows),
              "attempts": [r["attempt_count"] for r in rows]}
    return len(conn.execute(QUERIES.text("complete_runs_logged", params), params,
                            prepare=True).fetchall())


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
                plans = conn.execute("SELECT left(statement, 30) AS s, generic_plans, "
                                     "custom_plans FROM pg_prepared_statements").fetchall()
                print(json.dumps(plans))
                return spent
            assert complete(conn, rows) == len(rows)
            spent["claim"] += claimed - before
            spent["complete"] += backend_cpu(pid) - claimed
            spent["runs"] += len(rows)


def passes(url: str, batch: int) -> dict[str, float]:
    """The worker's pass instead: one transaction completes the runs the one before
    claimed, claims the next ``batch`` and commits (``Engine.record_and_claim``). Wall time
    and backend CPU per run, the commit's apart (its wait for the WAL flush), and the WAL
    written (the server's whole: other databases' writes count too)."""
    spent = {"pass_wall": 0.0, "pass_cpu": 0.0, "commit_wall": 0.0, "runs": 0.0,
             "wal_bytes": 0.0}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("VACUUM ANALYZE runs")
        pid = conn.info.backend_pid
        lsn = conn.execute("SELECT pg_current_wal_lsn() AS l").fetchone()["l"]
        rows: list[dict[str, Any]] = []
        while True:
            started, cpu = time.perf_counter(), backend_cpu(pid)
            conn.execute("BEGIN")
            if rows:
                assert complete(conn, rows) == len(rows)
            done, rows = len(rows), claim(conn, batch)
            committing = time.perf_counter()
            conn.execute("COMMIT")
            ended = time.perf_counter()
            spent["pass_wall"] += ended - started
            spent["commit_wall"] += ended - committing
            spent["pass_cpu"] += backend_cpu(pid) - cpu
            spent["runs"] += done
            if not rows:
                spent["wal_bytes"] = float(conn.execute(
                    "SELECT pg_current_wal_lsn() - %s::pg_lsn AS b", (lsn,)).fetchone()["b"])
                return spent


def prepare(url: str, runs: int, dropped: list[str], setup: list[str] | None = None) -> None:
    store = open_store(url)
    store.migrate()
    engine = Engine(store)
    engine.register_tasks(ENV, [noop.definition()])
    engine.register_version(ENV, "worker_bench", "v1", [noop.definition()], source="worker")
    store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in dropped:
            conn.execute(psycopg.sql.SQL("DROP INDEX {}").format(psycopg.sql.Identifier(name)))
        for statement in setup or []:
            conn.execute(statement)
    client = Client(database_url=url, environment=ENV)
    for start in range(0, runs, 1000):
        client.tasks.batch_trigger("noop", [{"payload": None}] * min(1000, runs - start))
    client.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--drop-index", action="append", default=[])
    ap.add_argument("--setup", action="append", default=[],
                    help="SQL run after migrating (a schema variant to price)")
    ap.add_argument("--db", default="outlast_bench_drain_statements")
    ap.add_argument("--passes", action="store_true",
                    help="time the worker's pass (complete, claim, commit) instead")
    args = ap.parse_args()
    with fresh_database("pg", args.db) as url:
        prepare(url, args.runs, args.drop_index, args.setup)
        spent = passes(url, args.batch) if args.passes else drain(url, args.batch)
    runs = spent["runs"] or 1
    out: dict[str, Any] = {
        "bench": "drain_statements_cpu", "runs": int(spent["runs"]), "batch": args.batch,
        "dropped": args.drop_index, "setup": args.setup}
    for key, value in spent.items():
        if key != "runs":
            scale = 1 if key == "wal_bytes" else 1000
            out[f"{key}{'' if key == 'wal_bytes' else '_ms'}_per_run"] = round(
                value / runs * scale, 4)
    print(json.dumps(out | {"load": os.getloadavg()}))


if __name__ == "__main__":
    main()
