"""Start one Outlast worker (the Supervisor) for the benchmark, like a CLI worker would.

    python bench/run_worker.py DATABASE_URL [--concurrency 4]

SIGTERM/SIGINT drain the worker. ``OUTLAST_BENCH_PROFILE=/path/out.prof`` runs the
supervisor under cProfile and writes the stats there on exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
from pathlib import Path

from outlast.engine import Engine
from outlast.store import open_store
from outlast.worker.supervisor import Supervisor

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("database_url")
    ap.add_argument("--concurrency", type=int,
                    default=int(os.environ.get("OUTLAST_CONCURRENCY", 4)))
    ap.add_argument("--queues", default="",
                    help="comma-separated queue names (default: every queue)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    store = open_store(args.database_url)
    store.migrate()
    sup = Supervisor(Engine(store), environment="dev", task_dirs=["tasks"], root=HERE,
                     concurrency=args.concurrency,
                     queues=[q for q in args.queues.split(",") if q] or None)
    signal.signal(signal.SIGTERM, lambda *_: sup.request_stop())
    signal.signal(signal.SIGINT, lambda *_: sup.request_stop())
    profile = os.environ.get("OUTLAST_BENCH_PROFILE")
    if profile:
        import cProfile

        prof = cProfile.Profile()
        try:
            prof.runcall(sup.run)
        finally:
            prof.dump_stats(profile)
    else:
        sup.run()
    store.close()


if __name__ == "__main__":
    main()
