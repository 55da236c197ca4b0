"""What dead rows cost a claim (PostgreSQL; not in CI).

    .venv/bin/python bench/claim_dead_explain.py [--fill 100000]

Pushes ``--fill`` runs through their lives in a scratch database (``tail_bench.fill``:
the inserts and updates a worker's claim and record make), queues one more run, and
prints ``EXPLAIN (ANALYZE, BUFFERS)`` of one claim (``claim_unlimited`` as a worker of
version ``v1`` taking ``noop`` runs), rolled back, twice: before any VACUUM and after
``VACUUM (ANALYZE)``. The buffers the scan of ``runs_claim_any`` reads are the dead
entries of every run that left QUEUED since the last VACUUM.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))

import claim_explain  # noqa: E402
import tail_bench  # noqa: E402
from _databases import fresh_database  # noqa: E402

from outlast.store import open_store  # noqa: E402

QUEUE_ONE = """
INSERT INTO runs (id, environment, task_id, queue, status, payload, max_attempts, retry,
    machine, available_at, created_at, queued_at, updated_at)
VALUES ('run_queued', 'dev', 'noop', 'task/noop', 'QUEUED', '0', 3, '{}', 'small-1x',
    %(at)s, %(at)s, %(at)s, %(at)s)
"""


def explain(conn: psycopg.Connection[Any], label: str) -> None:
    now = time.time()
    params = {"environment": "dev", "now": now, "limit": 4, "lease_id": "l",
              "lease_expires_at": now + 60, "worker_id": "w", "version": "v1",
              "tasks": ["noop"], "fresh": ["noop"]}
    # twice: the second plan is after the first marked the dead entries it met
    claim_explain.explain(conn, f"claim_unlimited ({label})", params, times=2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fill", type=int, default=100_000)
    args = parser.parse_args()
    with fresh_database("postgres", "outlast_claim_dead_explain") as url:
        store = open_store(url)
        store.migrate()
        store.close()
        tail_bench.fill(None, url, args.fill)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(QUEUE_ONE, {"at": time.time()})
            explain(conn, f"after {args.fill} runs, never vacuumed")
            conn.execute("VACUUM (ANALYZE) runs, attempts, run_events")
            explain(conn, "after VACUUM (ANALYZE)")


if __name__ == "__main__":
    main()
