"""The claim's query plans on PostgreSQL with many queued runs: does the order come from
an index, and how many rows does a claim touch?

    .venv/bin/python bench/claim_explain.py [--fresh 200000] [--backoff 20000] [--due 1000]

Fills a scratch database (``OUTLAST_BENCH_PG_URL``) with ``--fresh`` fresh queued runs,
``--backoff`` started runs whose retry is not due yet and ``--due`` started runs that are
due (half of them keyed), then prints ``EXPLAIN (ANALYZE, BUFFERS)`` of one claim of 10
through each claim query, inside a transaction that is rolled back: once as no worker
(no version filter) and once as a worker of the current version ``v1`` with task ``job``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psycopg
from _databases import fresh_database

from outlast.store import open_store
from outlast.store.postgres.store import _PARAM
from outlast.store.queries import load_queries

FILL = """
INSERT INTO runs (id, environment, task_id, queue, status, payload, priority, concurrency_key,
    max_attempts, retry, machine, available_at, created_at, queued_at, started_at,
    attempt_count, updated_at)
SELECT 'run_' || %(tag)s || lpad(i::text, 9, '0'), 'dev', 'job', 'q', 'QUEUED', 'null',
    i %% 3, CASE WHEN i %% 2 = 0 THEN 'k' || (i %% 50) END, 3, '{}', 'small-1x',
    %(at)s + i * 0.001, %(at)s, %(at)s, %(started)s, 1, %(at)s
FROM generate_series(1, %(n)s) AS i
"""


def fill(conn: psycopg.Connection[Any], args: argparse.Namespace, now: float) -> None:
    conn.execute(FILL, {"tag": "f", "n": args.fresh, "at": now - 600, "started": None})
    conn.execute(FILL, {"tag": "b", "n": args.backoff, "at": now + 300, "started": now - 900})
    conn.execute(FILL, {"tag": "d", "n": args.due, "at": now - 30, "started": now - 900})
    conn.execute("INSERT INTO versions (environment, version, state, source, created_at) "
                 "VALUES ('dev', 'v1', 'current', 'worker', %(at)s)", {"at": now})
    conn.execute("INSERT INTO version_tasks (environment, version, task_id, definition) "
                 "VALUES ('dev', 'v1', 'job', '{}')")
    conn.execute("ANALYZE")


CALLS: dict[str, dict[str, Any]] = {
    "claim_unlimited": {},
    "claim_unlimited_in": {"queues": ["q"]},
    "queue_candidates": {"queue": "q"},
    "key_heads": {"queue": "q", "after": ""},
    "other_candidates": {"queues": None, "controlled": []},
}


def explain(conn: psycopg.Connection[Any], name: str, params: dict[str, Any],
            times: int = 1) -> None:
    """Print the plan of the named query (the first word of ``name``), run ``times`` and
    rolled back each time; the last run's plan is printed."""
    query = name.split(" ")[0]
    sql = _PARAM.sub(r"%(\1)s", load_queries("postgres")[query].replace("%", "%%"))
    for _ in range(times):
        with conn.transaction(force_rollback=True):
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql,
                                params).fetchall()
    print(f"\n== {name}")
    for (line,) in rows:
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fresh", type=int, default=200_000)
    parser.add_argument("--backoff", type=int, default=20_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    with fresh_database("postgres", "outlast_claim_explain") as url:
        store = open_store(url)
        store.migrate()
        store.close()
        now = time.time()
        with psycopg.connect(url, autocommit=True) as conn:
            fill(conn, args, now)
            base = {"environment": "dev", "now": now, "limit": 10, "lease_id": "l",
                    "lease_expires_at": now + 60, "worker_id": "w"}
            for code in ({"version": None, "tasks": None, "fresh": None},
                         {"version": "v1", "tasks": ["job"], "fresh": ["job"]}):
                for name, params in CALLS.items():
                    explain(conn, f"{name} (version {code['version']})",
                            {**base, **code, **params})


if __name__ == "__main__":
    main()
