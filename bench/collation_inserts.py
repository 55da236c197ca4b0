"""What a text column's collation costs a B-tree insert, on databases of two locales.

    .venv/bin/python bench/collation_inserts.py [--loads 8] [--rows 50000] [--out FILE]

For each database made here (the server's default locale, and an ICU ``en-US`` one), two
tables of the same five text columns and six indexes shaped like the runs list's (led by
the environment; task, queue and status; ids), one with the columns in the database's
collation and one ``COLLATE "C"`` (migration 0031's choice). Loads of ``--rows`` rows with
ids in order (as run ids are) go into each in turn, the order flipped every load, and the
backend's CPU per row is read from ``/proc`` (run it on the database's machine). One JSON
line per database: the median µs per row of each table and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

import psycopg
from _databases import PG_ADMIN

HERE = Path(__file__).resolve().parent
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PREFIX = os.environ.get("BENCH_DB_PREFIX", "") + "collation_inserts"
LOCALES = {
    "server_default": "",
    "icu_en_us": "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0",
}
COLUMNS = ("id", "env", "task", "queue", "status")
INDEXES = ("env, id DESC", "env, task, id DESC", "env, task, status, id DESC",
           "env, queue, id DESC", "env, status, id DESC", "id")
HZ = os.sysconf("SC_CLK_TCK")


def make_database(name: str, options: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} {options}")


def make_tables(conn: psycopg.Connection) -> None:
    for table, collation in (("in_default", ""), ("in_c", ' COLLATE "C"')):
        columns = ", ".join(f"{c} text{collation}" for c in COLUMNS)
        conn.execute(f"CREATE TABLE {table} ({columns}, n int)")
        for i, keys in enumerate(INDEXES):
            conn.execute(f"CREATE INDEX {table}_{i} ON {table} ({keys})")


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def load(conn: psycopg.Connection, pid: int, table: str, first: int, rows: int) -> float:
    """µs of backend CPU per row for ``rows`` rows numbered from ``first``."""
    before = backend_cpu(pid)
    conn.execute(
        f"INSERT INTO {table} SELECT 'run_' || lpad(i::text, 26, '0'), 'prod', 'send-report', "
        f"'reports', 'COMPLETED', i FROM generate_series({first}, {first + rows - 1}) i")
    return (backend_cpu(pid) - before) / rows * 1e6


def measure(locale: str, options: str, loads: int, rows: int) -> dict[str, object]:
    name = f"{PREFIX}_{locale}"
    make_database(name, options)
    try:
        with psycopg.connect(f"{PG}/{name}", autocommit=True) as conn:
            make_tables(conn)
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
            costs: dict[str, list[float]] = {"in_default": [], "in_c": []}
            for k in range(loads):
                order = ("in_default", "in_c") if k % 2 else ("in_c", "in_default")
                for table in order:
                    costs[table].append(load(conn, pid, table, k * rows + 1, rows))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    default, c = (statistics.median(costs[t]) for t in ("in_default", "in_c"))
    return {"bench": "collation_inserts", "locale": locale, "rows": rows, "loads": loads,
            "indexes": len(INDEXES), "default_us_per_row": round(default, 2),
            "c_us_per_row": round(c, 2), "c_ratio": round(c / default, 3),
            "raw": {t: [round(x, 2) for x in xs] for t, xs in costs.items()},
            "load": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", type=int, default=8)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    for locale, options in LOCALES.items():
        line = json.dumps(measure(locale, options, args.loads, args.rows))
        print(line, flush=True)
        if args.out:
            with args.out.open("a") as out:
                out.write(line + "\n")


if __name__ == "__main__":
    main()
