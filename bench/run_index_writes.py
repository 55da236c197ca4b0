"""What one run of a worker's steady drain writes into the indexes of ``runs`` (PostgreSQL).

    .venv/bin/python bench/run_index_writes.py [--runs 64]

No status change of a run is a HOT update (the status is a key column of several indexes),
so each row version a run passes through enters every index of ``runs`` whose WHERE holds
for it: that count, per version, is most of what a run costs the server past the claim's
reads. This queues ``--runs`` runs (one batch trigger, as bench/outlast_peer.py's W2 does),
starts them as a worker of a version would and completes them, through the engine, and
prints, for the queued, the started and the completed version of one of them, the indexes
it is in (each index's WHERE evaluated on the row). Counts, not times: the same on a busy
machine.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import psycopg
from _databases import fresh_database

from outlast import Client, task
from outlast.engine import Engine
from outlast.engine.attempts import Outcome
from outlast.engine.dequeue import WorkerCode
from outlast.store import open_store

ENV = "dev"


@task(id="noop")
def noop(payload: Any) -> None:
    """The run every drain measures: nothing to do, so only the bookkeeping is left."""


INDEXES = """
SELECT c.relname AS name, pg_get_expr(i.indpred, i.indrelid) AS pred
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'runs'::regclass ORDER BY c.relname
"""


def holding(conn: psycopg.Connection[Any], run_id: str) -> list[str]:
    """The indexes of ``runs`` whose WHERE holds for the row of ``run_id`` as it is now."""
    out = []
    for name, pred in conn.execute(INDEXES).fetchall():
        cond = pred or "true"
        if conn.execute(f"SELECT 1 FROM runs WHERE id = %s AND ({cond})", (run_id,)).fetchone():
            out.append(name)
    return out


def drain(engine: Engine, url: str, runs: int, conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Queue, start and complete ``runs`` runs; the indexes each version of one is in."""
    client = Client(database_url=url, environment=ENV)
    ids = [t.id for t in client.tasks.batch_trigger("noop", [{"payload": None}] * runs)]
    client.close()
    seen = {"queued": holding(conn, ids[0])}
    claimed = engine.claim(ENV, "worker_bench", None, runs, WorkerCode("v1", ("noop",)))
    seen["started"] = holding(conn, ids[0])
    engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                           executed=0.001) for r in claimed])
    seen["completed"] = holding(conn, ids[0])
    counts = {k: len(v) for k, v in seen.items()}
    return {"runs": len(claimed), "indexes": counts,
            "written_by_worker": counts["started"] + counts["completed"], "names": seen}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=64)
    args = ap.parse_args()
    with fresh_database("pg", "outlast_bench_index_writes") as url:
        store = open_store(url)
        store.migrate()
        engine = Engine(store)
        engine.register_tasks(ENV, [noop.definition()])
        engine.register_version(ENV, "worker_bench", "v1", [noop.definition()],
                                source="worker")
        with psycopg.connect(url, autocommit=True) as conn:
            print(json.dumps(drain(engine, url, args.runs, conn)))
        store.close()


if __name__ == "__main__":
    main()
