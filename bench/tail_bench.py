"""Trigger → start latency on a fresh database and after many finished runs (not in CI).

    .venv/bin/python bench/tail_bench.py --store postgres --fill 100000 --rounds 2 \
        --variant "before:src=/tmp/before/src"

Each round, for each variant in turn (the current tree is ``after``; ``--variant
NAME:src=DIR`` adds one whose package, migrations included, comes from ``DIR``, say
``git archive HEAD~1 src | tar -x -C /tmp/before``), in a child process importing that
package: a fresh database, a worker (``outlast worker``, concurrency 4) serving a no-op
task, then

1. ``--measure`` runs triggered one at a time every ``--gap`` ms on the idle worker, and
   their trigger → start (``started_at - created_at``) p50/p95/p99;
2. ``--fill`` runs through their lives in batches of 500: on PostgreSQL by the same
   inserts and updates a worker's claim and record make (``FILL_STEPS``), on SQLite
   through the engine's own claim and record;
3. ``--settle`` seconds later (the worker's upkeep may vacuum meanwhile; the fill is far
   faster than workers finish runs, so this gives upkeep the turn it would have had),
   the same measure again, then the state of the ``runs`` table (live and dead rows,
   autovacuum passes, heap and index bytes) and the plan of one claim.

Variants take turns in every round so they share the machine's load; compare the ratio
of p95 after the fill to p95 fresh, not absolute numbers. Lines go to ``--out`` as JSONL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _databases import fresh_database, query  # noqa: E402

TASKS = '''
from outlast import task


@task
def noop(n: int) -> int:
    return n
'''
CHUNK = 500
RESULTS = Path(__file__).with_name("tail_results.jsonl")


def percentiles(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)

    def at(q: float) -> float | None:
        if not ordered:
            return None
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


# -- the child: one variant, one database ----------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    from outlast.engine import Engine
    from outlast.store import open_store

    name = f"db_health_tail_{os.getpid()}"
    with fresh_database(args.store, name) as url, tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "tasks").mkdir()
        (root / "tasks" / "tail_tasks.py").write_text(TASKS)
        (root / "outlast.toml").write_text('project = "tail"\n')
        store = open_store(url)
        store.migrate()
        engine = Engine(store)
        worker = start_worker(root, url)
        try:
            wait_for_task(engine)
            fresh = measure(engine, url, args)
            filled = fill(engine, url, args.fill)
            time.sleep(args.settle)
            after = measure(engine, url, args)
            state = table_state(url)
            vacuumed = vacuum_and_measure(engine, url, args) if args.vacuumed else None
        finally:
            worker.terminate()
            worker.wait(60)
            store.close()
    return {"fresh": fresh, "after": after, "fill_s": filled, "state": state,
            "vacuumed": vacuumed}


def vacuum_and_measure(engine: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The same measure once more after ``VACUUM runs``: what dead rows cost."""
    if not url.startswith("sqlite:///"):
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) runs, attempts, run_events")
    return measure(engine, url, args)


def start_worker(root: Path, url: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env["OUTLAST_DATABASE_URL"] = url
    code = "from outlast.cli.main import main; main()"
    log = (root / "worker.log").open("wb")
    return subprocess.Popen([sys.executable, "-c", code, "worker", "--concurrency", "4"],
                            cwd=root, env=env, stdout=log, stderr=log)


def wait_for_task(engine: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(d["id"] == "noop" for d in engine.list_tasks("dev")):
            return
        time.sleep(0.2)
    raise SystemExit("the worker did not register its task")


def new_run(engine: Any, n: int) -> Any:
    from outlast.core.options import parse_options
    from outlast.engine import NewRun

    return NewRun("noop", json.dumps(n), parse_options({}, engine.clock.now()))


def measure(engine: Any, url: str, args: argparse.Namespace) -> dict[str, Any]:
    began = time.time()
    tick = time.monotonic()
    for n in range(args.measure):
        engine.trigger("dev", new_run(engine, n))
        tick += args.gap / 1000
        time.sleep(max(0.0, tick - time.monotonic()))
    drain(url)
    waits = [float(r[0]) for r in query(
        url, "SELECT started_at - created_at FROM runs WHERE created_at >= ?", began)]
    return percentiles(waits)


#: the writes of one batch of runs through their lives: a row inserted QUEUED and updated
#: to EXECUTING with its attempt and event (one transaction, so the idle worker cannot
#: claim them in between), then updated to COMPLETED with its attempt's end and event
FILL_STEPS = (
    """INSERT INTO runs (id, environment, task_id, queue, status, payload, max_attempts,
        retry, machine, available_at, created_at, queued_at, updated_at)
    SELECT %(tag)s || lpad(i::text, 7, '0'), 'dev', 'noop', 'task/noop', 'QUEUED', '0', 3,
        '{}', 'small-1x', %(at)s, %(at)s, %(at)s, %(at)s
    FROM generate_series(1, %(n)s) AS i""",
    """UPDATE runs SET status = 'EXECUTING', attempt_count = 1, lease_id = 'fill',
        lease_expires_at = %(at)s + 60, worker_id = 'filler', started_at = %(at)s,
        updated_at = %(at)s
    WHERE id LIKE %(tag)s || '%%' AND status = 'QUEUED'""",
    """INSERT INTO attempts (run_id, number, status, lease_id, worker_id, machine, started_at)
    SELECT id, 1, 'EXECUTING', 'fill', 'filler', machine, %(at)s FROM runs
    WHERE id LIKE %(tag)s || '%%'""",
    """INSERT INTO run_events (run_id, at, kind, status, attempt)
    SELECT id, %(at)s, 'start_attempt', 'EXECUTING', 1 FROM runs WHERE id LIKE %(tag)s || '%%'""",
    """UPDATE runs SET status = 'COMPLETED', output = '0', finished_at = %(at)s,
        lease_id = NULL, lease_expires_at = NULL, execution_seconds = 0.001,
        updated_at = %(at)s
    WHERE id LIKE %(tag)s || '%%' AND status = 'EXECUTING'""",
    """UPDATE attempts SET status = 'COMPLETED', finished_at = %(at)s
    WHERE run_id LIKE %(tag)s || '%%'""",
    """INSERT INTO run_events (run_id, at, kind, status, attempt)
    SELECT id, %(at)s, 'complete', 'COMPLETED', 1 FROM runs WHERE id LIKE %(tag)s || '%%'""",
)


def fill(engine: Any, url: str, count: int) -> float:
    """``count`` runs through their lives in batches of ``CHUNK``: on PostgreSQL by the
    statements of ``FILL_STEPS`` (the same rows and updates a worker's claim and record
    make, without a worker's cost per run, which on a shared two-core machine would take
    half an hour for 100,000); on SQLite through the engine's own claim and record."""
    began = time.monotonic()
    if url.startswith("sqlite:///"):
        fill_through_engine(engine, count)
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            for batch, sent in enumerate(range(0, count, CHUNK)):
                params = {"tag": f"run_fill{batch:05d}_", "n": min(CHUNK, count - sent),
                          "at": time.time()}
                with conn.transaction():  # the idle worker must not claim them meanwhile
                    for step in FILL_STEPS[:4]:
                        conn.execute(step, params)
                for step in FILL_STEPS[4:]:
                    conn.execute(step, params)
    drain(url)
    return round(time.monotonic() - began, 1)


def fill_through_engine(engine: Any, count: int) -> None:
    from outlast.engine.attempts import Outcome

    for sent in range(0, count, CHUNK):
        batch = min(CHUNK, count - sent)
        engine.trigger_batch("dev", [new_run(engine, sent + i) for i in range(batch)])
        for _ in range(4):  # the idle worker may take a few of them meanwhile
            rows = engine.claim("dev", "tail-filler", None, CHUNK)
            engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                                   output=r["id"]) for r in rows])


def waiting(url: str) -> int:
    return int(query(url, "SELECT count(*) FROM runs WHERE finished_at IS NULL")[0][0])


def drain(url: str) -> None:
    deadline = time.monotonic() + 600
    while waiting(url) and time.monotonic() < deadline:
        time.sleep(0.2)


def table_state(url: str) -> dict[str, Any]:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return {"file_mb": round(os.path.getsize(path) / 2**20, 1)}
    row = query(url, "SELECT n_live_tup, n_dead_tup, autovacuum_count, n_tup_upd, "
                     "n_tup_hot_upd, pg_relation_size('runs'), pg_indexes_size('runs') "
                     "FROM pg_stat_user_tables WHERE relname = 'runs'")[0]
    keys = ("live", "dead", "autovacuums", "updates", "hot_updates", "heap_bytes",
            "index_bytes")
    return dict(zip(keys, (int(v) for v in row), strict=True))


# -- the parent: rounds of variants ----------------------------------------------------------


def variants(specs: list[str]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = [("after", None)]
    for spec in specs:
        name, _, rest = spec.partition(":")
        src = rest.removeprefix("src=") if rest.startswith("src=") else None
        out.append((name, src))
    return out


def run_variant(args: argparse.Namespace, src: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--child", "--store", args.store,
               "--fill", str(args.fill), "--measure", str(args.measure),
               "--gap", str(args.gap), "--settle", str(args.settle)]
    command += ["--vacuumed"] if args.vacuumed else []
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def report(name: str, rnd: int, result: dict[str, Any]) -> None:
    fresh, after = result["fresh"], result["after"]
    ratio = after["p95"] / fresh["p95"] if fresh["p95"] and after["p95"] else None
    print(f"round {rnd} {name:<10} fresh p50/p95/p99 {fresh['p50']}/{fresh['p95']}/"
          f"{fresh['p99']} ms  after fill p50/p95/p99 {after['p50']}/{after['p95']}/"
          f"{after['p99']} ms  p95 ratio {ratio and round(ratio, 2)}  fill {result['fill_s']} s"
          f"  {result['state']}", flush=True)
    if result.get("vacuumed"):
        v = result["vacuumed"]
        print(f"        after VACUUM p50/p95/p99 {v['p50']}/{v['p95']}/{v['p99']} ms", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="postgres")
    ap.add_argument("--fill", type=int, default=100_000)
    ap.add_argument("--measure", type=int, default=1000)
    ap.add_argument("--gap", type=float, default=20.0, help="ms between measured triggers")
    ap.add_argument("--settle", type=float, default=30.0,
                    help="seconds between the fill and the second measure (upkeep's turn)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variant", action="append", default=[], help="NAME:src=DIR")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--vacuumed", action="store_true",
                    help="then VACUUM the run tables and measure a third time")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    with Path(args.out).open("a") as out:
        for rnd in range(1, args.rounds + 1):
            for name, src in variants(args.variant):
                result = run_variant(args, src)
                report(name, rnd, result)
                out.write(json.dumps({"round": rnd, "variant": name, "store": args.store,
                                      "fill": args.fill, **result}) + "\n")


if __name__ == "__main__":
    main()
