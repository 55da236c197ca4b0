"""A child busy with a long run never holds up its worker, however large the runs queued
behind it are.

A worker queues short tasks' runs behind the one a child runs (claim ahead), each sent
down the child's pipe. A child reads its pipe only between runs, so a pipe holding more
than it can take (large payloads) would block the worker on the send until the run ends:
no other child fed, no heartbeat sent, its leases lost meanwhile.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from tests.worker.support import running_worker, trigger, wait_final

BLOB = "x" * 300_000  # the pipe's buffers hold a few of these at most


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def test_large_runs_queued_behind_a_long_run_do_not_stop_the_worker(
        live_engine: Engine, tmp_path: Path) -> None:
    """While one child holds a run, the other keeps taking runs, and the held run's lease
    is kept: it ends after one attempt, not taken for lost and run again."""
    with running_worker(live_engine, concurrency=2) as sup:
        sup.heartbeat_interval = 0.5
        for run_id in [trigger(live_engine, "bulky", {}) for _ in range(30)]:
            wait_final(live_engine, run_id)  # the task is known to be short: claim ahead
        held = trigger(live_engine, "bulky", {"gate": "gate-open"})
        large = [trigger(live_engine, "bulky", {"blob": BLOB}) for _ in range(40)]
        time.sleep(0.5)  # the large runs are handed out, some behind the held one
        later = trigger(live_engine, "hello-world", {"name": "later"})
        assert wait_final(live_engine, later, timeout=15)["status"] == "COMPLETED"
        time.sleep(4)  # past the 3 s lease: only heartbeats keep the held run's
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in [held, *large]]
    assert [r["status"] for r in runs] == ["COMPLETED"] * 41
    assert len(live_engine.attempts(held)) == 1
