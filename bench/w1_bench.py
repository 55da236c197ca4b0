"""W1 alone (single trigger and bulk), Outlast on PostgreSQL beside pgqueuer, in alternating
rounds: the quick way to compare a change to the trigger path without the whole peer run.

    .venv/bin/python bench/w1_bench.py --rounds 3 --variant before=/tmp/base/src \
        --variant after=src --pgqueuer --out bench/results-w1-ab.jsonl

Each ``--variant name=SRC`` runs ``outlast_peer.py``'s W1 calls exactly (``Client(
database_url).tasks.trigger("noop", None)`` × N, then ``batch_trigger`` in chunks of 1,000)
in a fresh process importing Outlast from ``SRC``; ``--pgqueuer`` runs pgqueuer's W1 the way
the shared harness does (``enqueue`` × N, then one list ``enqueue`` of N) with the peers'
venv. Rounds alternate the variants so a noisy neighbour hits them alike; the lines written
carry the round, so ratios are taken within one round. Besides jobs/s each line has the CPU
per job of the client process (``_client_us``) and of the database's backends
(``_server_us``, from ``/proc``: run it on the database's machine), which a busy neighbour
disturbs far less than it does the wall clock. ``PEERS_DIR`` as for ``run.sh``;
``LAZY_COMMIT=1`` commits without waiting for the disk, in both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
N = int(os.environ.get("N_JOBS", 10000))
PEERS_VENV = os.environ.get("PEERS_VENV", "/tmp/peers-venv/bin/python")
PG = os.environ.get("PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432")
#: "1": both databases commit with ``synchronous_commit = off``, which takes the disk's
#: flush time (noisy on a shared machine) out of the comparison of the code paths
LAZY = os.environ.get("LAZY_COMMIT", "0")

HELPERS = r"""
import os, time
def backend_cpu(conn, db):
    # CPU seconds the database's backends have used (user + system, from /proc)
    total = 0
    for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,)):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
class Phase:
    # wall seconds, this process's CPU and the database backends' CPU over a block
    def __init__(self, admin, db):
        self.admin, self.db = admin, db
    def __enter__(self):
        self.s = backend_cpu(self.admin, self.db)
        self.t, self.c = time.perf_counter(), time.process_time()
        return self
    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t
        self.cpu = time.process_time() - self.c
        self.server = backend_cpu(self.admin, self.db) - self.s
    def result(self, n, name):
        return {name: round(n / self.wall, 1), name + "_client_us": round(self.cpu / n * 1e6, 1),
                name + "_server_us": round(self.server / n * 1e6, 1)}
def fresh(url, db, lazy):
    import psycopg
    with psycopg.connect(url + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {db}")
        if lazy:
            conn.execute(f"ALTER DATABASE {db} SET synchronous_commit = off")
def drop(url, db):
    import psycopg
    with psycopg.connect(url + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
"""

OUTLAST = HELPERS + r"""
import json, sys
sys.path.insert(0, sys.argv[1]); sys.path.insert(1, sys.argv[2])
import psycopg
from outlast import Client
from outlast.engine import Engine
from outlast.store import open_store
N, URL, DB, LAZY = int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6] == "1"
fresh(URL, DB, LAZY)
url = URL + "/" + DB
store = open_store(url); store.migrate()
from tasks import bench_tasks
engine = Engine(store)
engine.register_tasks("dev", [bench_tasks.noop.definition()])
engine.register_tasks("bulk", [bench_tasks.noop.definition()])
store.close()
client = Client(database_url=url, environment="dev")
bulk = Client(database_url=url, environment="bulk")
admin = psycopg.connect(URL + "/postgres", autocommit=True)
for _ in range(50):
    client.tasks.trigger("noop", None)
bulk.tasks.batch_trigger("noop", [{"payload": None}] * 10)
with Phase(admin, DB) as single:
    for _ in range(N):
        client.tasks.trigger("noop", None)
with Phase(admin, DB) as many:
    for start in range(0, N, 1000):
        bulk.tasks.batch_trigger("noop", [{"payload": None}] * min(1000, N - start))
client.close(); bulk.close(); admin.close()
drop(URL, DB)
print(json.dumps(single.result(N, "w1") | many.result(N, "w1_bulk")))
"""

PGQUEUER = HELPERS + r"""
import asyncio, json, sys
import asyncpg, psycopg
from pgqueuer import AsyncpgDriver, Queries
N, URL, DB, LAZY = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
fresh(URL, DB, LAZY)
admin = psycopg.connect(URL + "/postgres", autocommit=True)
async def main():
    conn = await asyncpg.connect(URL + "/" + DB)
    q = Queries(AsyncpgDriver(conn))
    await q.install()
    for _ in range(50):
        await q.enqueue("noop", None)
    await q.clear_queue()
    with Phase(admin, DB) as single:
        for _ in range(N):
            await q.enqueue("noop", None)
    with Phase(admin, DB) as many:
        await q.enqueue(["noop_bulk"] * N, [None] * N, [0] * N)
    await conn.close()
    return single, many
single, many = asyncio.run(main())
admin.close()
drop(URL, DB)
print(json.dumps(single.result(N, "w1") | many.result(N, "w1_bulk")))
"""


def run_outlast(src: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", OUTLAST, str(Path(src).resolve()), str(HERE),
         str(N), PG, "pg_trigger_w1", LAZY],
        check=True, stdout=subprocess.PIPE, text=True, cwd=HERE,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def run_pgqueuer() -> dict[str, float]:
    out = subprocess.run([PEERS_VENV, "-c", PGQUEUER, str(N), PG, "pg_trigger_pgq", LAZY],
                         check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[],
                        help="name=SRC (a directory holding the outlast package)")
    parser.add_argument("--pgqueuer", action="store_true")
    parser.add_argument("--out", default=None, help="append result lines to this file")
    args = parser.parse_args()
    variants = [v.split("=", 1) for v in args.variant] or [["current", str(HERE.parent / "src")]]
    for rnd in range(args.rounds):
        order = variants if rnd % 2 == 0 else variants[::-1]
        jobs: list[tuple[str, object]] = [(name, src) for name, src in order]
        if args.pgqueuer:
            jobs.append(("pgqueuer", None))
        for name, src in jobs:
            res = run_pgqueuer() if src is None else run_outlast(str(src))
            line = {"peer": name if src is None else f"outlast_pg_{name}", "round": rnd,
                    "n": N, "lazy_commit": LAZY == "1",
                    "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "load1": round(os.getloadavg()[0], 2), **res}
            print(json.dumps(line), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
