"""Faults around the worker's processes: children that die mid-call, a dead fork server,
errors in the supervisor's loop, a supervisor killed under its children."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from outlast.worker import forkserver
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


def test_a_killed_fork_server_is_replaced_and_runs_go_on(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=2) as sup:
        first = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "1"}))
        pid = forkserver.server_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # reaped here, as a SIGCHLD handler elsewhere in the process would: multiprocessing
        # then fails to ask after it (and while it exits, it refuses to fork)
        os.waitpid(pid, 0)
        after = [trigger(live_engine, "hello-world", {"name": str(i)}) for i in range(3)]
        runs = [wait_final(live_engine, run_id) for run_id in after]
        assert not sup._stop_requested
        assert forkserver.server_pid() not in (None, pid)
    assert first["status"] == "COMPLETED"
    assert {r["status"] for r in runs} == {"COMPLETED"}
