"""W1 single trigger, variants measured in short interleaved blocks: the comparison to use
on a machine whose load drifts.

    .venv/bin/python bench/w1_interleaved.py --blocks 12 --block 500 \
        --variant before=/tmp/base/src --variant after=src --pgqueuer \
        --out bench/results-w1-interleaved.jsonl

``w1_bench.py`` runs each variant in its own process, one after the other, so a neighbour
that starts or stops between two runs decides the ratio. Here every variant is a process
that stays up (its own fresh database, migrated, warmed by 200 triggers) and runs one block
of ``Client(database_url).tasks.trigger("noop", None)`` calls when told; the parent tells
the variants in turn, the order reversed every block, so each pair of blocks is a second
or so apart. Each block's line has its jobs/s, the client's CPU per job and the database
backend's (from ``/proc``: run it on the database's machine), and the load average.
``--pgqueuer`` adds pgqueuer's ``enqueue("noop", None)`` with the peers' venv.
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
URL, DB = sys.argv[1], sys.argv[2]
def fresh():
    with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
def drop():
    with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
def backend_cpu(admin):
    total = 0
    for (pid,) in admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB,)):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
def serve(block, warm):
    admin = psycopg.connect(URL + "/postgres", autocommit=True)
    warm(200)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        if n == 0:
            break
        s, t, c = backend_cpu(admin), time.perf_counter(), time.process_time()
        block(n)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        server = backend_cpu(admin) - s
        print(json.dumps({"w1": round(n / wall, 1), "w1_client_us": round(cpu / n * 1e6, 1),
                          "w1_server_us": round(server / n * 1e6, 1)}), flush=True)
    admin.close()
"""

OUTLAST = COMMON + r"""
sys.path.insert(0, sys.argv[3]); sys.path.insert(1, sys.argv[4])
from outlast import Client
from outlast.engine import Engine
from outlast.store import open_store
fresh()
store = open_store(URL + "/" + DB); store.migrate()
from tasks import bench_tasks
Engine(store).register_tasks("dev", [bench_tasks.noop.definition()])
store.close()
client = Client(database_url=URL + "/" + DB, environment="dev")
trigger = client.tasks.trigger
def block(n):
    for _ in range(n):
        trigger("noop", None)
serve(block, block)
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
async def enqueue(n):
    for _ in range(n):
        await q.enqueue("noop", None)
def block(n):
    loop.run_until_complete(enqueue(n))
serve(block, block)
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
        variants.append(Variant(f"outlast_pg_{name}", [
            sys.executable, "-W", "ignore", "-c", OUTLAST, PG,
            f"{DB_PREFIX}pg_w1_il_{i}",
            str(Path(src).resolve()), str(HERE)]))
    if args.pgqueuer:
        variants.append(Variant("pgqueuer", [PEERS_VENV, "-c", PGQUEUER, PG,
                                             f"{DB_PREFIX}pg_w1_il_pgq"]))
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--block", type=int, default=500, help="triggers per block")
    parser.add_argument("--variant", action="append", default=[], help="name=SRC")
    parser.add_argument("--pgqueuer", action="store_true")
    parser.add_argument("--out", default=None, help="append result lines to this file")
    args = parser.parse_args()
    variants = start(args)
    rates: dict[str, list[float]] = {v.name: [] for v in variants}
    try:
        for b in range(args.blocks):
            for v in (variants if b % 2 == 0 else variants[::-1]):
                line = {"peer": v.name, "block": b, "n": args.block,
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "load1": round(os.getloadavg()[0], 2), **v.block(args.block)}
                rates[v.name].append(line["w1"])
                print(json.dumps(line), flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(line) + "\n")
    finally:
        for v in variants:
            v.close()
    for name, values in rates.items():
        print(f"{name}: median {statistics.median(values):.0f}/s over {len(values)} blocks")


if __name__ == "__main__":
    main()
