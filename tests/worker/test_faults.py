"""Faults around the worker's processes: children that die mid-call, a dead fork server,
errors in the supervisor's loop, a supervisor killed under its children."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from tests.worker.support import running_worker, trigger, wait_final


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def test_a_child_dying_before_its_reply_is_a_crash_not_the_workers(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1) as sup:
        dies = wait_final(live_engine, trigger(live_engine, "exits-awaiting-reply"))
        after = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "next"}))
        assert not sup._stop_requested
    assert dies["status"] == "CRASHED", dies
    assert after["status"] == "COMPLETED"
