"""Soak: a steady mixed load for a set time, sampled every 10 s (not in CI).

    .venv/bin/python bench/soak.py --store sqlite --minutes 30 --rate 20 --retention 2m
    .venv/bin/python bench/soak.py --store postgres --minutes 30 --retention forever

Starts ``outlast server`` and ``outlast worker`` from this venv in a temporary project
whose ``outlast.toml`` sets ``[retention]`` (``--retention``, both periods; ``forever``
turns it off) and whose upkeep prunes every ``--prune-every`` seconds, then triggers
``--rate`` runs a second, a mix of: three durable steps, a 6 s sleep (suspends), a token
the driver completes a second later, a parent waiting on three child runs, and a task
that fails its first attempt (every fifth run fails for good after its retries).

Every 10 s it samples the database size, the rows of the run tables, trigger → start
p50/p95/p99 of the runs that started in the window, the claim rate (attempts started a
second), the RSS of the server's and the worker's process trees, and the open database
connections. It prints a row per sample, writes them as JSONL (``--out``), and ends
with the first five minutes against the last five (or the first and last third of a
shorter soak): with retention the size and the latency stay flat, without it they grow.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _databases import fresh_database, query  # noqa: E402

from outlast.core.options import parse_options  # noqa: E402
from outlast.engine import Engine, NewRun  # noqa: E402
from outlast.errors import OutlastError  # noqa: E402
from outlast.store import open_store  # noqa: E402

OUTLAST = str(Path(sys.executable).parent / "outlast")
SAMPLE_EVERY = 10.0
TABLES = ("runs", "run_events", "attempts", "run_logs", "run_journal", "waitpoints",
          "run_stream_chunks", "run_tags")
#: the mix, as (task, weight)
MIX = (("three-steps", 40), ("sleeper", 15), ("token-waiter", 10), ("parent", 15),
       ("flaky", 20))

TASKS = '''
from outlast import Retry, step, task, wait


@task(retry=Retry(max_attempts=1))
def child(n: int) -> int:
    return n


@task
def three_steps(n: int) -> int:
    a = step.run("a", lambda: n)
    b = step.run("b", lambda: a + 1)
    return step.run("c", lambda: b + 1)


@task
def sleeper(n: int) -> int:
    wait.sleep(seconds=6)
    return n


@task
def token_waiter(n: int) -> bool:
    return wait.for_token(wait.create_token(timeout="10m", tags=["soak"])).ok


@task
def parent(n: int) -> list:
    return [r.output for r in child.batch_trigger_and_wait([{"payload": i} for i in range(3)])]


@task(retry=Retry(max_attempts=3, min_delay=1, max_delay=2, randomize=False))
def flaky(n: int, ctx) -> int:
    if ctx.attempt.number < 2 or n % 5 == 0:
        raise RuntimeError("soak failure")
    return n
'''


def project(folder: Path, retention: str) -> Path:
    (folder / "tasks").mkdir()
    (folder / "tasks" / "soak_tasks.py").write_text(TASKS)
    (folder / "outlast.toml").write_text(
        f'project = "soak"\n\n[retention]\nfinished = "{retention}"\nfailed = "{retention}"\n')
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], root: Path, url: str, prune_every: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env |= {"OUTLAST_DATABASE_URL": url, "OUTLAST_RETENTION_INTERVAL": str(prune_every)}
    log = (root / f"{args[0]}.log").open("wb")
    return subprocess.Popen([OUTLAST, *args], cwd=root, env=env, stdout=log, stderr=log)


# -- sampling ------------------------------------------------------------------------------


def database_bytes(url: str) -> int:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    return int(query(url, "SELECT pg_database_size(current_database())")[0][0])


def tree_pids(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def connections(url: str, pids: list[int]) -> int:
    if not url.startswith("sqlite:///"):
        return int(query(url, "SELECT count(*) FROM pg_stat_activity "
                              "WHERE datname = current_database()")[0][0]) - 1
    path = os.path.realpath(url.removeprefix("sqlite:///"))
    count = 0
    for pid in pids:
        for p in tree_pids(pid):
            try:
                fds = list(Path(f"/proc/{p}/fd").iterdir())
            except OSError:
                continue
            count += sum(1 for fd in fds if _points_to(fd, path))
    return count


def _points_to(fd: Path, path: str) -> bool:
    try:
        return os.readlink(fd) == path
    except OSError:
        return False


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def sample(url: str, since: float, now: float, server: int, worker: int) -> dict[str, Any]:
    waits = [float(r[0]) for r in query(
        url, "SELECT started_at - created_at FROM runs WHERE started_at > ? AND started_at <= ?",
        since, now)]
    started = int(query(url, "SELECT count(*) FROM attempts WHERE started_at > ? "
                             "AND started_at <= ?", since, now)[0][0])
    return {
        "at": round(now, 1),
        "db_mb": round(database_bytes(url) / 2**20, 2),
        "rows": {t: int(query(url, f"SELECT count(*) FROM {t}")[0][0]) for t in TABLES},
        "start_p50_ms": percentile(waits, 0.50), "start_p95_ms": percentile(waits, 0.95),
        "start_p99_ms": percentile(waits, 0.99),
        "claims_per_s": round(started / max(now - since, 1e-9), 1),
        "server_rss_mb": rss_mb(server), "worker_rss_mb": rss_mb(worker),
        "connections": connections(url, [server, worker]),
    }


# -- load ----------------------------------------------------------------------------------


def wait_for_tasks(engine: Engine, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {d["id"] for d in engine.list_tasks("dev")} >= {t for t, _ in MIX}:
            return
        time.sleep(0.5)
    raise SystemExit("the worker did not register its tasks (see worker.log)")


def trigger_some(engine: Engine, count: int, serial: int) -> int:
    weights = [w for _, w in MIX]
    for i, name in enumerate(_pick(serial + i, weights) for i in range(count)):
        opts = parse_options({}, engine.clock.now())
        engine.trigger("dev", NewRun(name, json.dumps(serial + i), opts))
    return serial + count


def _pick(n: int, weights: list[int]) -> str:
    spot = (n * 7919) % sum(weights)
    for (name, _), acc in zip(MIX, _running_sums(weights), strict=True):
        if spot < acc:
            return name
    return MIX[-1][0]


def _running_sums(weights: list[int]) -> list[int]:
    out, total = [], 0
    for w in weights:
        total += w
        out.append(total)
    return out


def complete_tokens(engine: Engine) -> None:
    tokens, _ = engine.durable.list_tokens("dev", status="PENDING", tag="soak", limit=500)
    for token in tokens:
        try:
            engine.durable.complete_token("dev", token["id"], {"ok": True})
        except OutlastError:
            continue  # timed out or completed meanwhile


def soak(url: str, args: argparse.Namespace, out: Any) -> list[dict[str, Any]]:
    folder = Path(tempfile.mkdtemp(prefix="outlast-soak-"))
    root = project(folder, args.retention)
    if url.startswith("postgresql"):
        subprocess.run([OUTLAST, "migrate", "--database-url", url], cwd=root, check=True,
                       capture_output=True)
    server = start(["server", "--port", str(free_port())], root, url, args.prune_every)
    worker = start(["worker", "--concurrency", str(args.concurrency)], root, url,
                   args.prune_every)
    store = open_store(url)
    store.migrate()  # SQLite: whoever opens the file first brings it up to date
    engine = Engine(store)
    samples: list[dict[str, Any]] = []
    try:
        wait_for_tasks(engine)
        samples = drive(engine, url, args, server.pid, worker.pid, out)
    finally:
        for proc in (worker, server):
            proc.terminate()
        for proc in (worker, server):
            proc.wait(60)
        store.close()
        print(f"logs: {root}", file=sys.stderr)
    return samples


def drive(engine: Engine, url: str, args: argparse.Namespace, server: int, worker: int,
          out: Any) -> list[dict[str, Any]]:
    began = time.time()
    end = began + args.minutes * 60
    serial, tick, since, next_sample = 0, began, began, began + SAMPLE_EVERY
    samples = []
    print(header())
    while time.time() < end:
        serial = trigger_some(engine, args.rate, serial)
        complete_tokens(engine)
        tick += 1.0
        time.sleep(max(0.0, tick - time.time()))
        if time.time() >= next_sample:
            now = time.time()
            row = sample(url, since, now, server, worker) | {"t": round(now - began)}
            since, next_sample = now, next_sample + SAMPLE_EVERY
            samples.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(line(row), flush=True)
    return samples


# -- report --------------------------------------------------------------------------------


def header() -> str:
    return (f"{'t':>5} {'db MB':>8} {'runs':>8} {'events':>9} {'p50':>7} {'p95':>7} "
            f"{'p99':>7} {'claim/s':>8} {'srv MB':>7} {'wrk MB':>7} {'conns':>5}")


def line(r: dict[str, Any]) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.1f}"

    return (f"{r['t']:>5} {r['db_mb']:>8.2f} {r['rows']['runs']:>8} "
            f"{r['rows']['run_events']:>9} {ms(r['start_p50_ms']):>7} "
            f"{ms(r['start_p95_ms']):>7} {ms(r['start_p99_ms']):>7} "
            f"{r['claims_per_s']:>8.1f} {r['server_rss_mb']:>7.1f} "
            f"{r['worker_rss_mb']:>7.1f} {r['connections']:>5}")


def compare(samples: list[dict[str, Any]]) -> None:
    """The first five minutes against the last five (a third each of a shorter soak)."""
    if len(samples) < 3:
        return
    span = min(30, len(samples) // 3)
    first, last = samples[:span], samples[-span:]
    print(f"\nfirst {span} samples against the last {span}:")
    for key in ("db_mb", "start_p50_ms", "start_p95_ms", "claims_per_s", "worker_rss_mb",
                "server_rss_mb"):
        a, b = _mean(first, key), _mean(last, key)
        print(f"  {key:<15} {a!s:>10} → {b!s:<10}")
    a = _mean([{"v": s["rows"]["runs"]} for s in first], "v")
    b = _mean([{"v": s["rows"]["runs"]} for s in last], "v")
    print(f"  {'runs':<15} {a!s:>10} → {b!s:<10}")


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.fmean(values), 2) if values else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--rate", type=int, default=20, help="runs triggered a second")
    ap.add_argument("--retention", default="2m", help='both periods, or "forever"')
    ap.add_argument("--prune-every", type=float, default=10.0,
                    help="seconds between upkeep's retention passes")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--out", default=None, help="JSONL path (default: soak-<store>.jsonl)")
    args = ap.parse_args()
    path = Path(args.out or f"soak-{args.store}-{args.retention}.jsonl")
    # one database per retention setting, so soaks with and without retention run together
    database = "bench_soak_" + "".join(c if c.isalnum() else "_" for c in args.retention)
    with fresh_database(args.store, database) as url, path.open("w") as out:
        samples = soak(url, args, out)
    compare(samples)
    print(f"samples: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
