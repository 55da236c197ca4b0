"""The worker's claim of one just-queued run on PostgreSQL (W3's claim step), old and new
code in short interleaved blocks.

    .venv/bin/python bench/claim_latency.py --blocks 12 --block 300 \
        --variant old=/work/wt/claim-base/src --variant new=src --out claims.jsonl

W3 (trigger → start p50) waits for the trigger, the worker's wake-up, its claim and the
child; this times the claim alone, as the supervisor makes it:
``Engine.record_and_claim([], "dev", worker, None, 4, code)`` with the worker's version
registered (so the version filter is in the statement), one queued run each time. Each
variant is a process that stays up (its own fresh database, warmed by 300 claims) and runs a
block when told; the parent alternates the variants, the order reversed every block. The
run is queued before and completed after each claim through a second engine (another
pool, another backend), so the claiming connection's backend does nothing but claim: its
CPU per claim (from ``/proc``: run this on the database's machine) is the statement's cost,
less disturbed by the machine's load than wall time. Each block's line: p50 and mean of
the claim's wall time, the client's CPU per claim, the claiming backend's CPU per claim,
and the load average; the summary gives each variant's median over blocks and the ratio
of neighbouring blocks. ``BENCH_DB_PREFIX`` (default ``claim_lat_``) names the databases.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PG = os.environ.get("PG_URL", "postgresql://postgres@127.0.0.1:5432")
#: each variant's database is this and its name
PREFIX = os.environ.get("BENCH_DB_PREFIX", "claim_lat_")

CHILD = r"""
import json, os, statistics, sys, time
import psycopg
URL, DB, SRC, BENCH = sys.argv[1:5]
sys.path.insert(0, SRC); sys.path.insert(1, BENCH)
from outlast import Client
from outlast.core.outcomes import Outcome
from outlast.engine import Engine, WorkerCode
from outlast.store import open_store
from tasks import bench_tasks

with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
    conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    conn.execute(f"CREATE DATABASE {DB}")
side = Engine(open_store(URL + "/" + DB))
side.store.migrate()
definitions = [bench_tasks.noop.definition(), bench_tasks.lat.definition()]
side.register_tasks("dev", definitions)
worker = Engine(open_store(URL + "/" + DB))
worker.register_worker("dev", "w1", {"hostname": "bench", "pid": os.getpid(), "version": "0",
                                     "queues": None, "concurrency": 4})
worker.register_version("dev", "w1", "v1", definitions, source="worker")
client = Client(database_url=URL + "/" + DB, environment="dev")
code = WorkerCode("v1", tuple(sorted(d.id for d in definitions)))
claimer = None

def backend_cpu():  # ns on the CPU (schedstat: finer than stat's clock ticks)
    global claimer
    if claimer is None:  # the connection the claims use: the one the last one left
        with worker.store.connection() as conn:
            claimer = conn.info.backend_pid
    return int(open(f"/proc/{claimer}/schedstat").read().split()[0]) / 1e9

GAP = float(os.environ.get("CLAIM_GAP", "0"))

def one():
    client.tasks.trigger("lat", 0.0)
    if GAP:
        time.sleep(GAP)
    c, t = time.process_time(), time.perf_counter()
    _, claimed = worker.record_and_claim([], "dev", "w1", None, 4, code)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert len(claimed.rows) == 1, claimed
    row = claimed.rows[0]
    side.record([Outcome(row["id"], row["lease_id"], row["attempt_count"], "completed")])
    return wall, cpu

def block(n):
    s = backend_cpu()
    walls, cpus = zip(*(one() for _ in range(n)))
    server = backend_cpu() - s
    return {"p50_us": round(statistics.median(walls) * 1e6, 1),
            "mean_us": round(statistics.fmean(walls) * 1e6, 1),
            "client_us": round(sum(cpus) / n * 1e6, 1),
            "server_us": round(server / n * 1e6, 1)}

block(300)
print("ready", flush=True)
for line in sys.stdin:
    n = int(line)
    if n == 0:
        break
    print(json.dumps(block(n)), flush=True)
side.store.close(); worker.store.close()
with psycopg.connect(URL + "/postgres", autocommit=True) as conn:
    conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
"""


def start(name: str, src: str, gap: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, PG, f"{PREFIX}{name}", str(Path(src).resolve()),
         str(HERE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, CLAIM_GAP=str(gap)))
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "ready":
        raise SystemExit(f"{name} did not start: {line!r}")
    return proc


def ask(proc: subprocess.Popen[str], n: int) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{n}\n")
    proc.stdin.flush()
    return dict(json.loads(proc.stdout.readline()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", action="append", required=True, help="name=path/to/src")
    ap.add_argument("--blocks", type=int, default=12)
    ap.add_argument("--block", type=int, default=300)
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds idle between the trigger and the claim (W3 waits 20 ms)")
    ap.add_argument("--out")
    args = ap.parse_args()
    variants = dict(v.split("=", 1) for v in args.variant)
    procs = {name: start(name, src, args.gap) for name, src in variants.items()}
    lines: list[dict[str, Any]] = []
    order = list(procs)
    for b in range(args.blocks):
        for name in order if b % 2 == 0 else reversed(order):
            line = ask(procs[name], args.block) | {
                "variant": name, "block": b, "loadavg": Path("/proc/loadavg").read_text()[:14]}
            print(json.dumps(line), flush=True)
            lines.append(line)
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.write("0\n")
        proc.stdin.flush()
        proc.wait()
    if args.out:
        with open(args.out, "a") as f:
            f.writelines(json.dumps(line) + "\n" for line in lines)
    summary(lines, order)


def summary(lines: list[dict[str, Any]], order: list[str]) -> None:
    """Each variant's median over blocks, and the median ratio to the first variant of
    neighbouring blocks (same block number)."""
    by = {name: [ln for ln in lines if ln["variant"] == name] for name in order}
    first = order[0]
    for name in order:
        out: dict[str, Any] = {"variant": name}
        for key in ("p50_us", "mean_us", "client_us", "server_us"):
            out[key] = round(statistics.median(ln[key] for ln in by[name]), 1)
            if name != first:
                out[key + "_ratio"] = round(statistics.median(
                    a[key] / max(b[key], 1e-9) for a, b in zip(by[first], by[name],
                                                               strict=True)), 3)
        print(json.dumps(out))


if __name__ == "__main__":
    main()
