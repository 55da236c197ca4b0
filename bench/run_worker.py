"""Start one Outlast worker (the Supervisor) for the benchmark, like a CLI worker would.

    python bench/run_worker.py DATABASE_URL [--concurrency 4]

SIGTERM/SIGINT drain the worker. ``OUTLAST_BENCH_PROFILE=/path/out.prof`` runs the
supervisor under cProfile and writes the stats there on exit. ``OUTLAST_BOOT_TRACE=path``
appends the boot milestones there (``_boot_trace.py``).
"""

from __future__ import annotations

import os

import _boot_trace

if __name__ == "__main__":
    _boot_trace.start(os.environ.get("OUTLAST_BOOT_TRACE"))
    _boot_trace.mark("main")
    _warm = getattr(__import__("outlast.worker.forkserver").worker.forkserver, "warm", None)
    if _warm is not None:  # as `outlast worker` does: the fork server starts first
        _warm(**{"fork": True} if "fork" in _warm.__code__.co_varnames else {})

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
from pathlib import Path  # noqa: E402

from outlast.engine import Engine  # noqa: E402
from outlast.store import open_store  # noqa: E402
from outlast.worker.supervisor import SWITCH_INTERVAL, Supervisor  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("database_url")
    ap.add_argument("--concurrency", type=int,
                    default=int(os.environ.get("OUTLAST_CONCURRENCY", 4)))
    ap.add_argument("--queues", default="",
                    help="comma-separated queue names (default: every queue)")
    args = ap.parse_args()
    _boot_trace.mark("imports")
    _boot_trace.install()
    logging.basicConfig(level=logging.WARNING)
    store = open_store(args.database_url)
    if store.embedded:  # as `outlast worker` does: PostgreSQL is migrated on purpose
        store.migrate()
    _boot_trace.mark("store")
    sup = Supervisor(Engine(store), environment="dev", task_dirs=["tasks"], root=HERE,
                     concurrency=args.concurrency,
                     queues=[q for q in args.queues.split(",") if q] or None,
                     switch_interval=SWITCH_INTERVAL)  # as `outlast worker` does
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
