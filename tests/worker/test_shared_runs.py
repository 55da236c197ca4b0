"""Runs of async tasks share a child: many at once in one process, each still its own run.

A worker with one child process (``concurrency=1``) runs many async runs at once as tasks
of the child's loop; each keeps its own logs, is cancelled or timed out alone, and a sync
task's run still gets a process to itself. On both stores.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from tests.eventually import eventually
from tests.worker.support import running_worker, trigger, wait_final, wait_status


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Real time (leases and max_duration must really pass) and a short lease."""
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _started(tmp_path: Path, count: int) -> list[str]:
    return eventually(lambda: len(_lines(tmp_path / "shared-started")) >= count
                      and _lines(tmp_path / "shared-started"), 30, f"{count} runs to start")


def test_async_runs_run_at_once_in_one_process(live_engine: Engine, tmp_path: Path) -> None:
    """Ten runs all start while the gate is shut: with one process, they ran at once."""
    with running_worker(live_engine, concurrency=1, async_slots=20):
        ids = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(10)]
        assert sorted(_started(tmp_path, 10)) == sorted(ids)
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in ids]
    assert [r["status"] for r in runs] == ["COMPLETED"] * 10
    assert [r["output"]["n"] for r in runs] == list(range(10))
    assert len({r["output"]["pid"] for r in runs}) == 1


def test_each_shared_run_keeps_its_own_logs(live_engine: Engine, tmp_path: Path) -> None:
    """Lines printed and logged by runs interleaved on one loop land in their own run."""
    (tmp_path / "gate-open").touch()
    with running_worker(live_engine, concurrency=1, async_slots=20):
        ids = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(6)]
        runs = [wait_final(live_engine, run_id) for run_id in ids]
    for n, run in enumerate(runs):
        messages = [entry["message"] for entry in live_engine.logs(run["id"])]
        assert [m for m in messages if m.startswith("line ")] == \
            [f"line {i} of {n}" for i in range(3)]
        assert [m for m in messages if m.startswith("logged by")] == [f"logged by {n}"] * 3


def test_at_most_async_slots_run_at_once(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=3):
        ids = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(5)]
        _started(tmp_path, 3)
        eventually(lambda: sum(live_engine.retrieve("dev", i)["status"] == "EXECUTING"
                               for i in ids) >= 3, 10, "three runs executing")
        assert len(_lines(tmp_path / "shared-started")) == 3  # the other two wait their turn
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in ids]
    assert [r["status"] for r in runs] == ["COMPLETED"] * 5


def test_one_async_slot_runs_each_alone(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=1):
        ids = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(2)]
        _started(tmp_path, 1)
        assert len(_lines(tmp_path / "shared-started")) == 1
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in ids]
    assert [r["status"] for r in runs] == ["COMPLETED"] * 2


def test_canceling_one_shared_run_leaves_the_others(live_engine: Engine,
                                                    tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=10):
        doomed = trigger(live_engine, "shared-cancelled")
        others = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(3)]
        _started(tmp_path, 4)
        live_engine.cancel("dev", doomed)
        eventually(lambda: _lines(tmp_path / "shared-cancelled") == [doomed], 10,
                   "the canceled run's task to be cancelled")
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in others]
    assert live_engine.retrieve("dev", doomed)["status"] == "CANCELED"
    assert [r["status"] for r in runs] == ["COMPLETED"] * 3


def test_a_shared_run_past_its_max_duration_times_out_alone(live_engine: Engine,
                                                            tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=10):
        slow = trigger(live_engine, "shared-too-long")
        other = trigger(live_engine, "shared-gate", {"n": 1})
        _started(tmp_path, 2)
        timed_out = wait_final(live_engine, slow, timeout=20)
        assert live_engine.retrieve("dev", other)["status"] == "EXECUTING"
        (tmp_path / "gate-open").touch()
        done = wait_final(live_engine, other)
    assert timed_out["status"] == "TIMED_OUT"
    assert "max_duration" in timed_out["error"]["message"]
    assert done["status"] == "COMPLETED"


def test_a_shared_run_past_its_machine_s_memory_runs_out_of_it(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=10):
        hungry = wait_final(live_engine, trigger(live_engine, "shared-memory-hungry"))
        fine = wait_final(live_engine, trigger(live_engine, "async-echo", {"n": 0}))
    assert hungry["status"] == "CRASHED", hungry["error"]
    assert hungry["error"]["type"] == "OutOfMemory"
    assert fine["status"] == "COMPLETED"


def test_a_shared_process_that_dies_ends_each_of_its_runs(live_engine: Engine,
                                                          tmp_path: Path) -> None:
    """A run that ends its process takes the runs beside it: each attempt is recorded as
    crashed (the price of sharing, said where slots are chosen) and retried as its policy
    says; none is lost or left running."""
    with running_worker(live_engine, concurrency=1, async_slots=10):
        exits = trigger(live_engine, "shared-exits")
        beside = trigger(live_engine, "shared-cancelled")
        _started(tmp_path, 2)
        (tmp_path / "exit-now").touch()
        crashed = wait_final(live_engine, exits)
        eventually(lambda: len(live_engine.attempts(beside)) == 2, 20, "a second attempt")
        after = wait_final(live_engine, trigger(live_engine, "async-echo", 7))
        live_engine.cancel("dev", beside)
    assert crashed["status"] == "CRASHED"
    first = live_engine.attempts(beside)[0]
    assert "exit code 3" in first["error"]["message"]
    assert after["output"] == {"echo": 7}


def test_shared_runs_record_steps_and_sleep(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=10):
        ids = [trigger(live_engine, "shared-steps", {"n": n}) for n in range(8)]
        runs = [wait_final(live_engine, run_id) for run_id in ids]
    assert [r["output"] for r in runs] == [[2 * (n + i) for i in range(3)] for n in range(8)]


def test_a_sync_run_never_joins_shared_ones(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=2, async_slots=10):
        shared = [trigger(live_engine, "shared-gate", {"n": n}) for n in range(3)]
        _started(tmp_path, 3)
        wait_status(live_engine, shared[0], "EXECUTING")
        alone = wait_final(live_engine, trigger(live_engine, "sync-pid"))
        (tmp_path / "gate-open").touch()
        runs = [wait_final(live_engine, run_id) for run_id in shared]
    assert alone["status"] == "COMPLETED"
    assert alone["output"] not in {r["output"]["pid"] for r in runs}


def test_sdk_calls_from_threads_of_shared_runs_get_their_own_answers(
        live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=1, async_slots=20):
        ids = [trigger(live_engine, "shared-asks-from-threads", {"n": n}) for n in range(8)]
        runs = [wait_final(live_engine, run_id) for run_id in ids]
        children = {n: [wait_final(live_engine, c) for c in run["output"]]
                    for n, run in enumerate(runs)}
    assert [r["status"] for r in runs] == ["COMPLETED"] * 8
    for n, triggered in children.items():
        assert [c["output"] for c in triggered] == [{"echo": [n, i]} for i in range(3)]
