"""Where Outlast's time goes in W1 (single trigger) and W2 (drain N queued runs).

    OUTLAST_STORE=pg|sqlite N_JOBS=3000 .venv/bin/python bench/profile_outlast.py

W1 runs under cProfile in this process; W2 starts ``run_worker.py`` with
``OUTLAST_BENCH_PROFILE`` so the supervisor runs under cProfile. On PostgreSQL the
transactions per run are counted from ``pg_stat_database``. Stats files go to $BENCH_DIR.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import outlast_peer as P  # noqa: E402

C = P.C
N = C.N


def xacts() -> int | None:
    if P.STORE != "pg":
        return None
    import psycopg

    with psycopg.connect(P.URL, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s",
                           (P.PG_DB,)).fetchone()
        return int(row[0]) if row else None


def show(path: str, title: str, n: int) -> None:
    print(f"\n### {title}: top functions by cumulative time (per-call counts are per {n} runs)")
    stats = pstats.Stats(path)
    stats.sort_stats("cumulative").print_stats(28)
    stats.sort_stats("tottime").print_stats(15)


def main() -> None:
    from outlast import Client
    from outlast.engine import Engine
    from outlast.store import open_store

    P.fresh_database()
    store = open_store(P.URL)
    store.migrate()
    from tasks import bench_tasks

    Engine(store).register_tasks("dev", [t.definition() for t in (bench_tasks.noop,
                                                                   bench_tasks.lat)])
    store.close()
    client = Client(database_url=P.URL, environment="dev")
    C.reset()

    # W1 under cProfile
    x0 = xacts()
    prof = cProfile.Profile()
    t = time.time()
    prof.enable()
    for _ in range(N):
        client.tasks.trigger("noop", None)
    prof.disable()
    w1 = N / (time.time() - t)
    x1 = xacts()
    w1_path = os.path.join(C.DIR, f"w1_{P.STORE}.prof")
    prof.dump_stats(w1_path)

    # W2 with the supervisor under cProfile
    sup_path = os.path.join(C.DIR, f"w2_supervisor_{P.STORE}.prof")
    t0 = time.time()
    p = C.start_worker([sys.executable, os.path.join(P.HERE, "run_worker.py"), P.URL,
                        "--concurrency", str(P.CONC)],
                       f"profile_{P.STORE}", env={"OUTLAST_BENCH_PROFILE": sup_path})
    try:
        first, last = C.wait_done(N)
        x2 = xacts()
    finally:
        C.stop_worker(p)
    print(f"W1 {w1:.0f}/s under cProfile; W2 {N / (last - t0):.0f}/s "
          f"(steady {N / (last - first):.0f}/s) with the supervisor under cProfile")
    if x0 is not None and x1 is not None and x2 is not None:
        print(f"PostgreSQL commits per run: W1 {(x1 - x0) / N:.2f}, "
              f"W2 {(x2 - x1) / N:.2f} (incl. heartbeats/sweeps)")
    show(w1_path, "W1 trigger loop", N)
    show(sup_path, "W2 supervisor", N)


if __name__ == "__main__":
    main()
