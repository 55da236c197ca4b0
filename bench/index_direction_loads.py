"""Bulk loads into PostgreSQL's runs with the indexes of migration 0032 as they were and as
they are: the backend's CPU per run, alternating.

    PYTHONPATH=<a checkout before 0032>/src .venv/bin/python \\
        bench/index_direction_loads.py [--rounds 20]

Two databases migrated by the checkout on the path (``index_dir_before``, and
``index_dir_after``, where this checkout's 0032 is applied on top), then ``--rounds``
alternating blocks of ten committed 1,000-run ``COPY`` loads into each, as
``batch_trigger`` writes them. Prints the median CPU of the backend per run and the wall
time per run (client's row making included), each with the median of the neighbouring
blocks' ratios, and the pages of runs_queued after the loads. The backend's CPU is read
from ``/proc/<pid>/schedstat`` (run it on the database's machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import psycopg
from drain_statements_cpu import backend_cpu
from run_index_costs import made

from outlast.store import open_store
from outlast.store.postgres.store import CopyIn, copy_in, copy_text

PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
MIGRATION = (Path(__file__).resolve().parents[1] / "src/outlast/store/postgres/migrations"
             / "0032_indexes_grow_rightward.sql")
BLOCK = 10


def statements(path: Path) -> list[str]:
    """The migration's statements, its comments left out."""
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def fresh(name: str, after: bool) -> tuple[psycopg.Connection[Any], CopyIn]:
    with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    store = open_store(f"{PG}/{name}")
    store.migrate()
    copy = copy_in(store._queries.text("load_runs", {}))  # type: ignore[attr-defined]
    store.close()
    conn = psycopg.connect(f"{PG}/{name}", autocommit=True)
    for statement in statements(MIGRATION) if after else []:
        conn.execute(statement)  # type: ignore[call-overload]
    return conn, copy


def ratio(new: list[float], old: list[float]) -> float:
    """The median of the neighbouring blocks' ratios (they ran under the same load)."""
    return round(statistics.median(a / b for a, b in zip(new, old, strict=True)), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    dbs = {"before": fresh("index_dir_before", False), "after": fresh("index_dir_after", True)}
    wall: dict[str, list[float]] = {k: [] for k in dbs}
    cpu: dict[str, list[float]] = {k: [] for k in dbs}
    try:
        for r in range(args.rounds):
            for name in list(dbs) if r % 2 == 0 else list(dbs)[::-1]:
                conn, copy = dbs[name]
                used, started = backend_cpu(conn.info.backend_pid), time.perf_counter()
                for _ in range(BLOCK):
                    rows = made(copy, 1000)
                    with conn.transaction():
                        copy_text(conn, copy.statement, rows)
                wall[name].append((time.perf_counter() - started) / BLOCK / 1000 * 1e6)
                cpu[name].append((backend_cpu(conn.info.backend_pid) - used)
                                 / BLOCK / 1000 * 1e6)
        pages = {name: conn.execute("SELECT pg_relation_size('runs_queued') / 8192")
                 .fetchone()[0] for name, (conn, _) in dbs.items()}  # type: ignore[index]
    finally:
        for name, (conn, _) in dbs.items():
            conn.close()
            with psycopg.connect(PG + "/postgres", autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS index_dir_{name} WITH (FORCE)")
    print(json.dumps({
        "bench": "index_direction_loads", "rounds": args.rounds,
        "backend_cpu_us": {k: round(statistics.median(v), 2) for k, v in cpu.items()},
        "wall_us": {k: round(statistics.median(v), 2) for k, v in wall.items()},
        "cpu_ratio": ratio(cpu["after"], cpu["before"]),
        "wall_ratio": ratio(wall["after"], wall["before"]),
        "runs_queued_pages": pages, "load1": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    main()
