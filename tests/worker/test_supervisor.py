"""A worker on a thread executing real runs in child processes, on both stores."""

from __future__ import annotations

import json
import os
import signal
import sys
from multiprocessing.process import BaseProcess
from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.store import Store
from outlast.worker.supervisor import SWITCH_INTERVAL
from tests.eventually import eventually, first_line
from tests.worker.support import (
    running_worker,
    trigger,
    wait_final,
    wait_status,
)


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Real time (retries and leases must really pass) and a short lease."""
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def test_run_completes_with_output_and_captured_logs(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "Ada"}))
    assert run["status"] == "COMPLETED"
    assert run["output"] == {"greeting": "Hello, Ada!"}
    assert run["attempts"] == 1 and run["started_at"] and run["finished_at"]
    logs = [(entry["level"], entry["message"]) for entry in live_engine.logs(run["id"])]
    assert ("INFO", "printed line 1") in logs
    assert ("WARNING", "a logging warning") in logs
    assert ("INFO", "structured") in logs


def test_a_thread_of_a_sync_task_logs_into_its_run(live_engine: Engine) -> None:
    """The child routes its output once, not per attempt (``capture.route_process``): a
    line written in a thread the task started, in a context of its own, is the run's."""
    with running_worker(live_engine, concurrency=1):
        first = wait_final(live_engine, trigger(live_engine, "prints-from-a-thread"))
        second = wait_final(live_engine, trigger(live_engine, "prints-from-a-thread"))
    for run in (first, second):
        assert run["status"] == "COMPLETED", run["error"]
        logs = [(entry["level"], entry["message"]) for entry in live_engine.logs(run["id"])]
        assert logs == [("INFO", "printed by a thread"), ("WARNING", "logged by a thread")]


def test_retries_until_success_and_async_tasks(live_engine: Engine) -> None:
    with running_worker(live_engine):
        flaky = wait_final(live_engine, trigger(live_engine, "flaky"))
        echo = wait_final(live_engine, trigger(live_engine, "async-echo", [1, "two"]))
    assert (flaky["status"], flaky["attempts"], flaky["output"]) == ("COMPLETED", 3, 3)
    assert [a["status"] for a in live_engine.attempts(flaky["id"])] == [
        "FAILED", "FAILED", "COMPLETED"]
    assert echo["output"] == {"echo": [1, "two"]}


def test_abort_and_handle_error_skip_end_after_one_attempt(live_engine: Engine) -> None:
    with running_worker(live_engine):
        aborted = wait_final(live_engine, trigger(live_engine, "aborts"))
        skipped = wait_final(live_engine, trigger(live_engine, "no-retry"))
    assert (aborted["status"], aborted["attempts"]) == ("FAILED", 1)
    assert aborted["error"]["message"] == "nothing to do"
    assert (skipped["status"], skipped["attempts"]) == ("FAILED", 1)


def test_process_death_is_retried_then_crashed_and_spares_other_runs(live_engine: Engine) -> None:
    with running_worker(live_engine, concurrency=2):
        exits = trigger(live_engine, "exits")
        segv = trigger(live_engine, "segfaults")
        fine = [trigger(live_engine, "hello-world", {"name": str(i)}) for i in range(5)]
        exited, crashed = wait_final(live_engine, exits), wait_final(live_engine, segv)
        others = [wait_final(live_engine, r) for r in fine]
    assert (exited["status"], exited["attempts"]) == ("CRASHED", 2)
    assert "exit code 3" in exited["error"]["message"]
    assert crashed["status"] == "CRASHED" and "SIGSEGV" in crashed["error"]["message"]
    assert {r["status"] for r in others} == {"COMPLETED"}


def test_the_loop_asks_only_a_child_whose_sentinel_woke_it_whether_it_lives(
        live_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loop turns once per few ended runs of a sync drain; asking every child whether
    it is alive on each turn was a tenth of its work. Only a child whose sentinel the
    wait found ready can have died: living children are never asked, and one that dies
    is still seen, its run retried and then recorded as crashed."""
    asked: list[int | None] = []
    is_alive = BaseProcess.is_alive

    def counted(process: BaseProcess) -> bool:
        asked.append(process.pid)
        return is_alive(process)

    monkeypatch.setattr(BaseProcess, "is_alive", counted)
    with running_worker(live_engine, concurrency=2):
        fine = [trigger(live_engine, "hello-world", {"name": str(i)}) for i in range(10)]
        assert {wait_final(live_engine, r)["status"] for r in fine} == {"COMPLETED"}
        assert asked == []
        exited = wait_final(live_engine, trigger(live_engine, "exits"))
        assert asked
    assert (exited["status"], exited["attempts"]) == ("CRASHED", 2)


def test_max_duration_times_out(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "too-slow"), timeout=20)
    assert run["status"] == "TIMED_OUT"
    assert "max_duration" in run["error"]["message"]


def test_out_of_memory_retries_on_the_larger_machine(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "memory-hungry"))
    first = live_engine.attempts(run["id"])[0]
    assert first["error"]["type"] == "OutOfMemory"
    assert first["machine"] == "micro"
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"].endswith("on large-1x")


def test_bad_output_fails_clearly(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "bad-output"))
    assert run["status"] == "FAILED" and run["attempts"] == 1
    assert "not JSON" in run["error"]["message"]


def test_cancel_kills_the_executing_attempt(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1):
        run_id = trigger(live_engine, "sleeper", {"seconds": 30})
        pid = int(first_line(tmp_path / "sleeper-started", 20, "sleeper start").split()[0])
        live_engine.cancel("dev", run_id)
        eventually(lambda: not _alive(pid), 10, "the attempt's process to be killed")
        after = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "next"}))
    assert live_engine.retrieve("dev", run_id)["status"] == "CANCELED"
    assert after["status"] == "COMPLETED"


def test_hooks_run_on_success_failure_and_cancel(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine):
        ok = wait_final(live_engine, trigger(live_engine, "hooked", {}))
        bad = wait_final(live_engine, trigger(live_engine, "hooked", {"fail": True}))
        canceled = trigger(live_engine, "hooked", {}, delay="1h")
        live_engine.cancel("dev", canceled)
        eventually(lambda: len(_hooks(tmp_path)) >= 3, 20, "three hook calls")
    calls = {h["run"]: h for h in _hooks(tmp_path)}
    assert calls[ok["id"]]["hook"] == "success" and calls[ok["id"]]["result"] == "fine"
    assert calls[bad["id"]]["hook"] == "failure"
    assert calls[bad["id"]]["result"]["message"] == "asked to fail"
    assert calls[canceled]["hook"] == "failure"


def test_queue_limit_holds_across_children(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=3):
        ids = [trigger(live_engine, "serial") for _ in range(3)]
        for run_id in ids:
            assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
    spans = _spans(tmp_path / "serial")
    assert len(spans) == 3
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end - 0.01, f"runs overlapped: {spans}"


def test_task_can_trigger_another_run(live_engine: Engine) -> None:
    with running_worker(live_engine):
        parent = wait_final(live_engine, trigger(live_engine, "spawns-child"))
        child = wait_final(live_engine, parent["output"])
    assert child["output"] == {"greeting": "Hello, child!"}


def test_drain_lets_short_attempts_finish(live_engine: Engine) -> None:
    with running_worker(live_engine, grace=10) as sup:
        run_id = trigger(live_engine, "sleeper", {"seconds": 1})
        wait_status(live_engine, run_id, "EXECUTING")
        sup.request_stop()
    assert live_engine.retrieve("dev", run_id)["status"] == "COMPLETED"


def test_drain_hands_back_what_outlives_the_grace(live_engine: Engine) -> None:
    with running_worker(live_engine, grace=0.5) as sup:
        run_id = trigger(live_engine, "sleeper", {"seconds": 30})
        wait_status(live_engine, run_id, "EXECUTING")
        sup.request_stop()
    run = live_engine.retrieve("dev", run_id)
    assert run["status"] == "QUEUED"
    assert run["attempts"] == 0  # the handed-back attempt does not count against retries


def test_killed_child_is_retried_by_policy(live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "dies-once")
        pid = int(first_line(tmp_path / "dies-once", 20, "first attempt").split()[0])
        os.kill(pid, signal.SIGKILL)
        run = wait_final(live_engine, run_id)
    assert (run["status"], run["attempts"], run["output"]) == ("COMPLETED", 2, 2)
    assert "SIGKILL" in live_engine.attempts(run_id)[0]["error"]["message"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); its state says it is gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # reaped between the two looks
        return False


def _hooks(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "hooks"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _spans(path: Path) -> list[tuple[float, float]]:
    starts, ends = [], []
    for line in path.read_text().splitlines():
        kind, at = line.split()
        (starts if kind == "start" else ends).append(float(at))
    return sorted(zip(sorted(starts), sorted(ends), strict=True))


def test_a_running_worker_lets_its_threads_take_turns_quickly(live_engine: Engine) -> None:
    """Upkeep runs on a thread of the worker's process: at Python's default switch
    interval (5 ms) a busy upkeep pass held the supervisor back that long after each
    database answer. A worker in a process of its own (``outlast worker``) lowers it while
    it runs and sets it back after; one inside an app's process leaves it alone."""
    before = sys.getswitchinterval()
    with running_worker(live_engine):
        assert sys.getswitchinterval() == before
    with running_worker(live_engine, switch_interval=SWITCH_INTERVAL):
        assert sys.getswitchinterval() == SWITCH_INTERVAL < before
    eventually(lambda: sys.getswitchinterval() == before, 10, "switch interval restored")


def test_async_attempts_of_a_child_share_one_lasting_event_loop(live_engine: Engine) -> None:
    """A client kept in a module global stays usable from one run to the next."""
    with running_worker(live_engine, concurrency=1):
        seen = [wait_final(live_engine, trigger(live_engine, "loops-seen"))["output"]
                for _ in range(3)]
    assert seen == [1, 1, 1]


def test_a_task_an_attempt_left_running_is_cancelled(live_engine: Engine,
                                                     tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=1):
        run = wait_final(live_engine, trigger(live_engine, "leaves-a-task"))
        eventually(lambda: (tmp_path / "leftover").exists(), 10, "the leftover cancelled")
    assert run["output"] == "left one running"
    assert (tmp_path / "leftover").read_text() == "cancelled\n"
