"""A worker starts rate-limited runs when the window frees, not on its next poll."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.store import Store
from tests.eventually import eventually
from tests.worker.support import running_worker

RUNS = 15


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=60)


@pytest.mark.exclusive  # times the waves to half a second: alone, not beside other tests
def test_rate_limited_runs_start_in_waves_as_the_window_frees(live_engine: Engine) -> None:
    """15 runs under "5/s": three waves a second apart, each as soon as the window frees.

    The poll is 30 s, and nothing else writes meanwhile (no heartbeat, no sweep: on SQLite
    any commit wakes the claim), so only the worker's wake-up at the window's end can start
    the second and third waves within the test's timeout.
    """
    engine = live_engine
    with running_worker(engine, concurrency=5, sweep=False) as sup:
        sup.poll_interval = sup.heartbeat_interval = 30.0
        engine.queues.update("dev", "hello-world", {"rate_limit": "5/s"})
        opts = parse_options({}, engine.clock.now())
        ids = [t.row["id"] for t in engine.trigger_batch(
            "dev", [NewRun("hello-world", json.dumps({"name": str(i)}), opts)
                    for i in range(RUNS)])]
        eventually(lambda: all(engine.retrieve("dev", i)["is_final"] for i in ids), 10,
                    "all runs to finish")
    starts = sorted(engine.attempts(i)[0]["started_at"] for i in ids)
    waves = [starts[0:5], starts[5:10], starts[10:15]]
    for earlier, later in zip(waves, waves[1:], strict=False):
        assert later[0] >= earlier[0] + 1.0 - 1e-6  # the rate held: no sixth start in a second
        assert later[0] - (earlier[0] + 1.0) < 0.5  # and the next wave came when it freed
    assert all(w[-1] - w[0] < 0.5 for w in waves)
    assert engine.retrieve("dev", ids[0])["status"] == "COMPLETED"
