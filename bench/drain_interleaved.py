"""The drain's passes for several variants of schema or SQL, in blocks that alternate.

    .venv/bin/python bench/drain_interleaved.py [--runs 20000] [--block 2000] \\
        --variant base --variant 'att50:setup=ALTER TABLE attempts SET (fillfactor = 50)' \\
        --variant 'main:queries=/tmp/main/src/outlast/store/postgres/queries.sql'

Each variant gets a database of its own (``<prefix>_<name>``), migrated by this checkout,
then its ``setup`` statements (``;;`` between several), and ``--runs`` queued no-op runs;
then the variants drain in turn, ``--block`` runs at a time (order flipped every round),
as the worker's passes do (``drain_statements_cpu.passes``: one transaction completes the
runs the one before claimed, claims ``--batch`` more and commits), with the
``claim_unlimited`` and ``complete_runs_logged`` texts of the variant's ``queries`` file
(default: this checkout's). Per block: the backend's CPU per run and the pass's wall time
per run. Neighbouring blocks ran under the same load, so the figure to read is the median
of the ratios between them (each variant against the first), not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from _databases import PG_ADMIN
from drain_statements_cpu import CHANGED_CHANNEL, ENV, backend_cpu, prepare
from psycopg import sql as pgsql
from psycopg.rows import dict_row

from outlast.store.postgres.store import to_pyformat
from outlast.store.queries import (
    QueryBook,
    dialect_queries,
    parse_dialect_queries,
    shared_queries,
)


@dataclass
class Variant:
    name: str
    setup: list[str]
    queries: QueryBook
    url: str = ""
    conn: Any = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)


def parse_variant(spec: str, prefix: str) -> Variant:
    name, _, rest = spec.partition(":")
    setup: list[str] = []
    queries = dialect_queries("postgres")
    for item in filter(None, rest.split("::")):
        key, _, value = item.partition("=")
        if key == "setup":
            setup += [s for s in value.split(";;") if s.strip()]
        elif key == "queries":
            queries = parse_dialect_queries(Path(value).read_text())
        else:
            raise SystemExit(f"unknown variant option {key!r}")
    book = QueryBook(shared_queries() | queries, to_pyformat)
    return Variant(name, setup, book, url=f"{prefix}_{name}")


def fresh(db: str) -> str:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            pgsql.Identifier(db)))
        conn.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(db)))
    info = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    return f"postgresql://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:" \
        f"{info.get('port', '5432')}/{db}"


def drop(db: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            pgsql.Identifier(db)))


def claim(v: Variant, batch: int) -> list[dict[str, Any]]:
    now = time.time()
    params = {"environment": ENV, "now": now, "limit": batch,
              "lease_id": f"lease_{time.monotonic_ns()}", "lease_expires_at": now + 30,
              "worker_id": "worker_bench", "version": "v1", "tasks": ["noop"],
              "changed_channel": CHANGED_CHANNEL, "lazy": False,
              "start_data": json.dumps({"worker_id": "worker_bench"})}
    rows = v.conn.execute(v.queries.text("claim_unlimited", params), params,
                          prepare=True).fetchall()
    return [{"id": r["id"], "lease_id": r["lease_id"], "attempt_count": r["attempt_count"]}
            for r in rows if r["id"]]


def complete(v: Variant, rows: list[dict[str, Any]]) -> None:
    params = {"now": time.time(), "ids": [r["id"] for r in rows],
              "lease_ids": [r["lease_id"] for r in rows], "outputs": ["null"] * len(rows),
              "executed": [0.001] * len(rows), "costs": [1e-8] * len(rows),
              "attempts": [r["attempt_count"] for r in rows]}
    done = v.conn.execute(v.queries.text("complete_runs_logged", params), params,
                          prepare=True).fetchall()
    assert len(done) == len(rows)


def block(v: Variant, runs: int, batch: int) -> bool:
    """Drain about ``runs`` runs of ``v`` in passes; False once none is left."""
    pid = v.conn.info.backend_pid
    cpu, started, done = backend_cpu(pid), time.perf_counter(), 0
    while done < runs:
        v.conn.execute("BEGIN")
        if v.rows:
            complete(v, v.rows)
        done += len(v.rows)
        v.rows = claim(v, batch)
        v.conn.execute("COMMIT")
        if not v.rows:
            break
    if done:
        v.cpu.append((backend_cpu(pid) - cpu) / done * 1e6)
        v.wall.append((time.perf_counter() - started) / done * 1e6)
    return bool(v.rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--runs", type=int, default=20_000)
    ap.add_argument("--block", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--prefix", default="drain_il")
    ap.add_argument("--no-analyze", dest="analyze", action="store_false",
                    help="no VACUUM ANALYZE of runs before the drain (a worker's W2 has "
                         "none: the server's autovacuum may be off or not yet there)")
    ap.add_argument("--sizes", action="store_true",
                    help="also print the pages of each index of runs after the drain (how "
                         "the variants' trees filled: a split at the right edge keeps pages full)")
    args = ap.parse_args()
    variants = [parse_variant(s, args.prefix) for s in args.variant]
    try:
        for v in variants:
            v.url = fresh(v.url)
            prepare(v.url, args.runs, [], v.setup)
            v.conn = psycopg.connect(v.url, autocommit=True, row_factory=dict_row)
            if args.analyze:
                v.conn.execute("VACUUM ANALYZE runs")
            v.rows = claim(v, args.batch)
        live, turn = list(variants), 0
        while live:
            order = live if turn % 2 == 0 else list(reversed(live))
            live = [v for v in order if block(v, args.block, args.batch)]
            live.sort(key=variants.index)
            turn += 1
        report(variants, args)
        if args.sizes:
            print(json.dumps({"bench": "drain_interleaved_sizes",
                              **{v.name: index_pages(v.conn) for v in variants}}))
    finally:
        for v in variants:
            if v.conn is not None:
                v.conn.close()
            drop(f"{args.prefix}_{v.name}")


def index_pages(conn: Any) -> dict[str, int]:
    """Pages of each index of ``runs`` (its relation's size on disk, free pages included)."""
    rows = conn.execute(
        "SELECT c.relname, pg_relation_size(c.oid) / 8192 AS pages FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = 'runs'::regclass ORDER BY c.relname").fetchall()
    return {r["relname"]: r["pages"] for r in rows}


def report(variants: list[Variant], args: argparse.Namespace) -> None:
    first = variants[0]
    out: dict[str, Any] = {"bench": "drain_interleaved", "runs": args.runs,
                           "block": args.block, "batch": args.batch}
    for v in variants:
        blocks = min(len(v.cpu), len(first.cpu))
        out[v.name] = {
            "setup": v.setup,
            "cpu_us_per_run": round(statistics.median(v.cpu), 2),
            "wall_us_per_run": round(statistics.median(v.wall), 2),
            "cpu_ratio": round(statistics.median(
                v.cpu[i] / first.cpu[i] for i in range(blocks)), 3),
            "wall_ratio": round(statistics.median(
                v.wall[i] / first.wall[i] for i in range(blocks)), 3),
            "blocks": blocks}
    out["load"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
