"""The body of one claiming process in the multi-process claim test (spawned, so importable)."""

from __future__ import annotations

from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.store import open_store


def run(url: str, worker_id: str, start: float, capacity: int, barrier: Any, results: Any) -> None:
    """Process entry point: wait for every sibling, then race them; report (id, count)."""
    try:
        store = open_store(url)
        engine = Engine(store, clock=FakeClock(start), lease_seconds=3600)
        barrier.wait(timeout=60)
        results.put((worker_id, claim_until_empty(engine, worker_id, capacity)))
        store.close()
    except BaseException as exc:  # reported to the test, which fails with it
        results.put((worker_id, f"{type(exc).__name__}: {exc}"))
        raise


def claim_until_empty(engine: Engine, worker_id: str, capacity: int) -> int:
    """Claim and complete runs until none are left; return how many this process ran."""
    done = 0
    idle = 0
    while idle < 3:  # a few empty claims in a row: the others took the rest
        rows = engine.claim("dev", worker_id, None, capacity)
        if not rows:
            idle += 1
            continue
        idle = 0
        outcomes = [
            Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                    output={"by": worker_id})
            for r in rows
        ]
        decisions = engine.record(outcomes)
        if any(d is None for d in decisions):
            raise AssertionError(f"{worker_id}: an outcome of its own claim was stale")
        done += len(rows)
    return done
