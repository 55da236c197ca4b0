"""Where PostgreSQL's time and WAL go inside the drain's two statements, node by node.

    .venv/bin/python bench/drain_explain.py [--runs 10000] [--batch 200]

The drain of ``drain_statements_cpu.py`` (``--runs`` queued no-op runs, claimed ``--batch``
at a time with ``claim_unlimited`` and completed with ``complete_runs_logged``), each
statement sent as ``EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON)``: it runs as it would and
answers with its plan's figures instead of its rows (the claimed rows are read back by
their lease). Prints, per statement and per plan node that writes or reads a table, the
time spent in it alone (its own, less its children's), the WAL records, full-page images
and bytes it wrote and the buffers it dirtied, each per run; then the tables' inserts,
updates and HOT updates (``pg_stat_user_tables``). Timing each node slows the statements
down: read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from _databases import fresh_database
from drain_statements_cpu import CHANGED_CHANNEL, ENV, QUERIES, prepare
from psycopg.rows import dict_row

EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) "
Totals = dict[str, dict[str, float]]


def node_name(node: dict[str, Any]) -> str:
    """A plan node's label: its type, operation and relation or index, its CTE."""
    parts = [node["Node Type"]]
    for key in ("Operation", "Relation Name", "Index Name", "CTE Name", "Subplan Name"):
        if node.get(key):
            parts.append(str(node[key]))
    return " ".join(parts)


def walk(node: dict[str, Any], into: dict[str, float]) -> None:
    """Add each writing node's figures (its subtree's: the scans feeding it) to ``into``.

    Only ``ModifyTable`` nodes are counted: a CTE's plan is a sibling of the scan that
    pulls rows from it, so a node less its children would count the CTE twice or not at
    all; each data-modifying CTE has a ``ModifyTable`` at its top and they never nest."""
    if node["Node Type"] == "ModifyTable":
        name = node_name(node)
        into[f"{name} ms"] += node["Actual Total Time"] * node["Actual Loops"]
        for key, label in (("WAL Records", "wal_rec"), ("WAL FPI", "wal_fpi"),
                           ("WAL Bytes", "wal_bytes"), ("Shared Dirtied Blocks", "dirtied"),
                           ("Shared Hit Blocks", "hit")):
            into[f"{name} {label}"] += node.get(key, 0)
        into[f"{name} rows"] += node["Actual Rows"] * node["Actual Loops"]
    for kid in node.get("Plans", []):
        walk(kid, into)


def explain(conn: psycopg.Connection[Any], name: str, params: dict[str, Any],
            totals: Totals) -> None:
    plan = conn.execute(EXPLAIN + QUERIES.text(name, params), params).fetchone()
    top = plan["QUERY PLAN"][0]
    into = totals[name]
    into["statement ms"] += top["Execution Time"]
    into["planning ms"] += top["Planning Time"]
    walk(top["Plan"], into)


def claim(conn: psycopg.Connection[Any], batch: int, totals: Totals) -> list[dict[str, Any]]:
    now = time.time()
    lease = "lease_" + uuid.uuid4().hex
    params = {"environment": ENV, "now": now, "limit": batch, "lease_id": lease,
              "lease_expires_at": now + 30, "worker_id": "worker_bench", "version": "v1",
              "tasks": ["noop"], "changed_channel": CHANGED_CHANNEL, "lazy": False,
              "start_data": json.dumps({"worker_id": "worker_bench"})}
    explain(conn, "claim_unlimited", params, totals)
    return conn.execute("SELECT id, lease_id, attempt_count FROM runs WHERE lease_id = %s",
                        (lease,)).fetchall()


def complete(conn: psycopg.Connection[Any], rows: list[dict[str, Any]], totals: Totals) -> None:
    params = {"now": time.time(), "ids": [r["id"] for r in rows],
              "lease_ids": [r["lease_id"] for r in rows], "outputs": ["null"] * len(rows),
              "executed": [0.001] * len(rows), "costs": [1e-8] * len(rows),
              "attempts": [r["attempt_count"] for r in rows]}
    explain(conn, "complete_runs_logged", params, totals)


STATS = """SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
WHERE relname IN ('runs', 'attempts', 'run_events') ORDER BY relname"""


def drain(url: str, batch: int, analyze: bool) -> tuple[Totals, int, list[dict[str, Any]]]:
    totals: Totals = defaultdict(lambda: defaultdict(float))
    runs = 0
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        if analyze:
            conn.execute("VACUUM ANALYZE runs")
        while rows := claim(conn, batch, totals):
            complete(conn, rows, totals)
            runs += len(rows)
        time.sleep(0.7)  # the statistics collector's flush
        stats = conn.execute(STATS).fetchall()
    return totals, runs, stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--setup", action="append", default=[],
                    help="SQL run after migrating (a schema variant to price)")
    ap.add_argument("--no-analyze", dest="analyze", action="store_false",
                    help="no VACUUM ANALYZE of runs first (as in a worker's W2)")
    args = ap.parse_args()
    with fresh_database("pg", "drain_bench_explain") as url:
        prepare(url, args.runs, [], args.setup)
        totals, runs, stats = drain(url, args.batch, args.analyze)
    for name, figures in totals.items():
        print(f"== {name} (per run)")
        for key, value in sorted(figures.items(), key=lambda kv: kv[0]):
            scale = 1000 if key.endswith(" ms") else 1
            unit = "us" if key.endswith(" ms") else ""
            print(f"  {value * scale / runs:10.3f} {unit:2} {key.removesuffix(' ms')}")
    for row in stats:
        print(json.dumps(row))
    print(json.dumps({"bench": "drain_explain", "runs": runs, "batch": args.batch,
                      "setup": args.setup, "analyzed": args.analyze,
                      "load": os.getloadavg()}))


if __name__ == "__main__":
    main()
