"""Several processes claiming from one database: every run starts exactly once."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from typing import Any

import pytest

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun

from . import claim_worker

PROCESSES = 4
RUNS = 400


@pytest.mark.timeout(180)
def test_concurrent_claims_start_each_run_exactly_once(
    engine: Engine, store_url: str, register: Any, clock: Any
) -> None:
    register(engine, "job")
    engine.trigger_batch("dev", [NewRun("job", json.dumps(i), TriggerOptions())
                                 for i in range(RUNS)])
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=claim_worker.run,
                    args=(store_url, f"w{n}", clock.now(), 5, barrier, results))
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    reports = dict(results.get(timeout=150) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    results.close()
    results.join_thread()
    assert all(isinstance(n, int) for n in reports.values()), reports
    assert all(proc.exitcode == 0 for proc in procs)
    assert sum(reports.values()) == RUNS

    runs, cursor = engine.list_runs("dev", limit=1000)
    assert cursor is None and len(runs) == RUNS
    assert Counter(r["status"] for r in runs) == {"COMPLETED": RUNS}
    assert all(r["attempts"] == 1 for r in runs)
    for run in runs:
        starts = [e for e in engine.events(run["id"]) if e["kind"] == "start_attempt"]
        assert len(starts) == 1, run["id"]
        assert len(engine.attempts(run["id"])) == 1
        assert run["output"] == {"by": starts[0]["data"]["worker_id"]}
