"""The body of one claiming process in the flow invariant tests (spawned, so importable)."""

from __future__ import annotations

import time
from typing import Any

from outlast.engine import Engine, Outcome
from outlast.store import open_store


def run(url: str, worker_id: str, capacity: int, hold: float, barrier: Any, stop: Any,
        results: Any) -> None:
    """Claim, hold each run ``hold`` seconds, complete; report (id, key, start, end) per run.

    Start is taken after the claim commits and end before the completion commits, so each
    reported interval lies inside the run's real EXECUTING interval: an overlap seen here
    is never larger than the real one.
    """
    spans: list[tuple[str, str | None, float, float]] = []
    try:
        store = open_store(url)
        engine = Engine(store, lease_seconds=3600)
        barrier.wait(timeout=60)
        while not stop.is_set():
            rows = engine.claim("dev", worker_id, None, capacity)
            if not rows:
                time.sleep(0.002)
                continue
            started = time.monotonic()
            time.sleep(hold)
            ended = time.monotonic()
            engine.record([Outcome(r["id"], r["lease_id"], r["attempt_count"], "completed",
                                   output=None) for r in rows])
            spans.extend((r["id"], r["concurrency_key"], started, ended) for r in rows)
        store.close()
        results.put((worker_id, spans))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put((worker_id, f"{type(exc).__name__}: {exc}"))
        raise
