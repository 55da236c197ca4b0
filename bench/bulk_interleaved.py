"""W1 bulk (``client.tasks.batch_trigger`` in chunks of 1,000), variants in interleaved blocks.

    .venv/bin/python bench/bulk_interleaved.py --blocks 10 --block 10000 \
        --variant old=/tmp/bulk-old/src --variant new=src --store pg --pgqueuer \
        --out bench/results-bulk-ab.jsonl

Like ``w1_interleaved.py``: every variant is a process that stays up (its own fresh database,
migrated, warmed by one block) and runs one block when told; the parent tells the variants
in turn, the order reversed every block, so the ratio between variants is taken in the same
seconds on a machine whose load drifts. A block empties the run tables (outside the timing),
then triggers ``--block`` no-op runs as ``outlast_peer.py``'s ``bulk()`` does: batches of
1,000 ``{"payload": None}`` items into an environment no worker consumes. Each block's line
has its runs/s, the client's CPU per run and (PostgreSQL, read from ``/proc``: run it on the
database's machine) the database backends' CPU per run. ``--store sqlite`` measures SQLite
(a file under ``/tmp``), where the client's CPU is all of it. ``--pgqueuer`` adds pgqueuer's
``enqueue(list, list, list)`` of the same number of jobs with the peers' venv. ``--single``
times W1 instead (``tasks.trigger``, one run per call), to check that it did not get slower.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_VENV = os.environ.get("PEERS_VENV", "/tmp/peers-venv/bin/python")
PG = os.environ.get("PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432")
#: prefix of the databases made (and dropped): two people benchmarking at once pick two
DB_PREFIX = os.environ.get("BENCH_DB_PREFIX", "")

COMMON = r"""
import json, os, sys, time
import psycopg
URL, DB, STORE = sys.argv[1], sys.argv[2], sys.argv[3]
SQLITE = f"/tmp/{DB}.db"
def fresh():
    if STORE == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(SQLITE + suffix)
            except FileNotFoundError:
                pass
        return
    with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
def drop():
    if STORE == "pg":
        with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
def backend_cpu(admin):
    if admin is None:
        return 0.0
    total = 0
    for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB,)):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
def serve(block, clear, n_warm):
    admin = psycopg.connect(URL + "/postgres", autocommit=True) if STORE == "pg" else None
    block(n_warm)
    clear()
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        if n == 0:
            break
        clear()
        s, t, c = backend_cpu(admin), time.perf_counter(), time.process_time()
        block(n)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        server = backend_cpu(admin) - s
        print(json.dumps({"bulk": round(n / wall, 1), "client_us": round(cpu / n * 1e6, 2),
                          "server_us": round(server / n * 1e6, 2)}), flush=True)
    if admin is not None:
        admin.close()
"""

OUTLAST = COMMON + r"""
sys.path.insert(0, sys.argv[4]); sys.path.insert(1, sys.argv[5])
import sqlite3
import outlast
from outlast import Client
from outlast.engine import Engine
from outlast.store import open_store
assert outlast.__file__.startswith(sys.argv[4]), outlast.__file__
fresh()
DB_URL = URL + "/" + DB if STORE == "pg" else "sqlite:///" + SQLITE
store = open_store(DB_URL); store.migrate()
from tasks import bench_tasks
Engine(store).register_tasks("bulk", [bench_tasks.noop.definition()])
store.close()
client = Client(database_url=DB_URL, environment="bulk")
batch_trigger = client.tasks.batch_trigger
TABLES = ("runs", "run_tags", "run_events", "attempts", "run_logs")
def clear():
    if STORE == "pg":
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            conn.execute("TRUNCATE " + ", ".join(TABLES))
        return
    conn = sqlite3.connect(SQLITE, timeout=60)
    with conn:
        for table in TABLES:
            conn.execute(f"DELETE FROM {table}")
    conn.close()
trigger = client.tasks.trigger
def block(n):
    if os.environ.get("BULK_SINGLE"):
        for _ in range(n):
            trigger("noop", None)
        return
    for start in range(0, n, 1000):
        batch_trigger("noop", [{"payload": None}] * min(1000, n - start))
serve(block, clear, 2000)
client.close()
drop()
"""

PGQUEUER = COMMON + r"""
import asyncio, asyncpg
from pgqueuer import AsyncpgDriver, Queries
fresh()
loop = asyncio.new_event_loop()
conn = loop.run_until_complete(asyncpg.connect(URL + "/" + DB))
q = Queries(AsyncpgDriver(conn))
loop.run_until_complete(q.install())
def clear():
    loop.run_until_complete(q.clear_queue("noop_bulk"))
def block(n):
    loop.run_until_complete(q.enqueue(["noop_bulk"] * n, [None] * n, [0] * n))
serve(block, clear, 2000)
loop.run_until_complete(conn.close())
drop()
"""


class Variant:
    """One process that triggers a block of runs each time it is asked."""

    def __init__(self, name: str, argv: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=HERE)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"{name} did not start")

    def block(self, n: int) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        return dict(json.loads(self.proc.stdout.readline()))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("0\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def start(args: argparse.Namespace) -> list[Variant]:
    variants = []
    for i, spec in enumerate(args.variant):
        name, src = spec.split("=", 1)
        variants.append(Variant(f"outlast_{args.store}_{name}", [
            sys.executable, "-W", "ignore", "-c", OUTLAST, PG,
            f"{DB_PREFIX}bench_bulk_{args.store}_{i}",
            args.store, str(Path(src).resolve()), str(HERE)]))
    if args.pgqueuer:
        variants.append(Variant("pgqueuer", [PEERS_VENV, "-c", PGQUEUER, PG,
                                             f"{DB_PREFIX}bench_bulk_pgq",
                                             "pg"]))
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--block", type=int, default=10000, help="runs per block")
    parser.add_argument("--store", choices=("pg", "sqlite"), default="pg")
    parser.add_argument("--variant", action="append", default=[], help="name=SRC")
    parser.add_argument("--pgqueuer", action="store_true")
    parser.add_argument("--single", action="store_true",
                        help="W1 instead: one trigger per call (that nothing got slower)")
    parser.add_argument("--out", default=None, help="append result lines to this file")
    args = parser.parse_args()
    if args.single:
        os.environ["BULK_SINGLE"] = "1"  # the variants inherit it
    variants = start(args)
    lines: dict[str, list[dict[str, Any]]] = {v.name: [] for v in variants}
    try:
        for b in range(args.blocks):
            for v in (variants if b % 2 == 0 else variants[::-1]):
                line = {"peer": v.name, "block": b, "n": args.block,
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "load1": round(os.getloadavg()[0], 2), **v.block(args.block)}
                lines[v.name].append(line)
                print(json.dumps(line), flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(line) + "\n")
    finally:
        for v in variants:
            v.close()
    for name, got in lines.items():
        med = {k: statistics.median(x[k] for x in got) for k in ("bulk", "client_us",
                                                                 "server_us")}
        print(f"{name}: median {med['bulk']:.0f}/s, client {med['client_us']:.1f} us/run, "
              f"server {med['server_us']:.1f} us/run over {len(got)} blocks")


if __name__ == "__main__":
    main()
