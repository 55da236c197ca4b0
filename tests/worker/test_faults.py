"""Faults around the worker's processes: children that die mid-call, a dead fork server,
errors in the supervisor's loop, a supervisor killed under its children."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from outlast.cli.main import cli
from outlast.engine import Engine
from outlast.engine.attempts import PLATFORM_ERROR
from outlast.store import Store
from outlast.worker import forkserver
from outlast.worker.pool import NO_REPORT_EXIT, Child, lost_with_server
from outlast.worker.supervisor import Supervisor, WorkerFailed
from tests.eventually import eventually, first_line
from tests.worker.support import (
    PROJECT,
    registered,
    running_worker,
    trigger,
    wait_final,
    wait_status,
)

OUTLAST = [sys.executable, "-m", "outlast.cli.main"]


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


def test_a_killed_fork_server_is_replaced_and_runs_go_on(
        live_engine: Engine, tmp_path: Path) -> None:
    with running_worker(live_engine, concurrency=2) as sup:
        first = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "1"}))
        running = trigger(live_engine, "waits-the-first-time")  # max_attempts=1
        eventually((tmp_path / "waits-started").exists, 30, "the attempt to start")
        pid = forkserver.server_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # reaped here at once, as a SIGCHLD handler elsewhere in the process would:
        # multiprocessing then fails to ask after it (and while it exits, it refuses to fork)
        with contextlib.suppress(ChildProcessError):  # unless the worker was quicker
            os.waitpid(pid, 0)
        after = [trigger(live_engine, "hello-world", {"name": str(i)}) for i in range(3)]
        runs = [wait_final(live_engine, run_id) for run_id in after]
        handed_back = wait_final(live_engine, running)
        assert not sup._stop_requested
        assert forkserver.server_pid() not in (None, pid)
    assert first["status"] == "COMPLETED"
    assert {r["status"] for r in runs} == {"COMPLETED"}
    # the fork server's death was the platform's fault: the attempt went back uncharged
    assert handed_back["status"] == "COMPLETED" and handed_back["attempts"] == 1
    [release] = [e for e in live_engine.events(running) if e["kind"] == "release"]
    assert release["data"]["error"]["type"] == PLATFORM_ERROR
    assert "fork server died" in release["data"]["error"]["message"]


def test_a_child_that_died_first_is_charged_though_its_fork_server_died_after() -> None:
    """Only the fork server reports a child's exit code: a real code came from a child
    that died of its own cause before the server did."""
    assert lost_with_server(None) and lost_with_server(NO_REPORT_EXIT)
    for own in (-signal.SIGSEGV, -signal.SIGKILL, 1, 3, 0):
        assert not lost_with_server(own)


def test_leases_are_kept_while_a_new_child_is_slow_to_start(
        live_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new fork server is a fresh interpreter importing Outlast: seconds on a loaded
    machine, longer than a short lease, and the supervisor's loop waits for it. The
    attempts it holds meanwhile must keep their leases, or the sweeper charges them."""
    gate, starting, renewed = threading.Event(), threading.Event(), threading.Event()
    real_start, real_heartbeat = forkserver.start, live_engine.heartbeat

    def slow_start(make: Any) -> Any:
        starting.set()
        gate.wait(60)
        return real_start(make)

    with running_worker(live_engine, concurrency=2, grace=0.5) as sup:
        run_id = trigger(live_engine, "sleeper", {"seconds": 30})
        eventually((tmp_path / "sleeper-started").exists, 30, "the attempt to start")

        def heartbeat(worker_id: str, run_ids: list[str]) -> dict[str, str]:
            held = real_heartbeat(worker_id, run_ids)
            if starting.is_set() and not gate.is_set() and run_id in held:
                renewed.set()
            return held

        monkeypatch.setattr(live_engine, "heartbeat", heartbeat)
        monkeypatch.setattr(forkserver, "start", slow_start)
        # the child may start the run before the supervisor's thread records the job it
        # sent: wait until the supervisor shows which child holds the run
        holder = eventually(lambda: next((c for c in sup.children if c.job is not None
                                          and c.job.run["id"] == run_id), None),
                            10, "the supervisor to record the child holding the run")
        [idle] = [c for c in sup.children if c is not holder]
        os.kill(idle.process.pid, signal.SIGKILL)  # its replacement starts slowly
        try:
            assert starting.wait(30), "the replacement child was never started"
            assert renewed.wait(20), "the held attempt's lease lapsed while a child started"
        finally:
            gate.set()
    assert all(e["kind"] != "crash" for e in live_engine.events(run_id))


@pytest.fixture
def worker_process(store_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """``outlast worker`` over the test project, in a session of its own (for cleanup)."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "tasks", root / "tasks")
    (root / "outlast.toml").write_text('project = "faults"\ndirs = ["tasks"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(OUTLAST_DATABASE_URL=store_url, OUTLAST_TEST_OUT=str(tmp_path),
               PYTHONUNBUFFERED="1")
    with open(tmp_path / "worker.log", "w") as log:
        process = subprocess.Popen([*OUTLAST, "worker", "--concurrency", "1"], cwd=root,
                                   env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                   start_new_session=True)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.mark.parametrize("task_id", ["writes-forever", "holds-the-gil"])
def test_children_of_a_killed_supervisor_stop_at_once_and_quietly(
        live_engine: Engine, worker_process: subprocess.Popen[str], tmp_path: Path,
        task_id: str) -> None:
    eventually(lambda: registered(live_engine, task_id), 60, "the worker to register its tasks")
    trigger(live_engine, task_id)
    child = int(first_line(tmp_path / "writer-pid", 30, "the task to start").split()[0])
    os.kill(worker_process.pid, signal.SIGKILL)  # the supervisor alone, not its group
    worker_process.wait(10)
    eventually(lambda: not _alive(child), 10, "the orphaned child to stop")
    log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in log, log


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); its state says it is gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_an_error_in_the_loop_is_logged_and_the_loop_goes_on(
        live_engine: Engine, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    real, failures = Supervisor._enforce_deadlines, [RuntimeError("a bug, once")]

    def broken(self: Supervisor) -> None:
        if failures:
            raise failures.pop()
        real(self)

    with running_worker(live_engine) as sup:
        monkeypatch.setattr(Supervisor, "_enforce_deadlines", broken)
        run = wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "x"}))
        assert not failures and not sup._stop_requested
    assert run["status"] == "COMPLETED"
    logged = [r for r in caplog.records if r.getMessage().startswith("worker loop error")]
    assert logged and logged[0].exc_info is not None  # with its traceback


def test_a_loop_that_keeps_failing_hands_its_runs_back_and_ends(
        live_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    sup = Supervisor(live_engine, environment="dev", task_dirs=["tasks"], root=PROJECT,
                     concurrency=1, grace=5)
    ended: list[BaseException] = []

    def run() -> None:
        try:
            sup.run()
        except BaseException as exc:  # noqa: BLE001 - what ended the loop is the result
            ended.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    eventually(lambda: registered(live_engine, "sleeper"), 30, "task registration")
    run_id = trigger(live_engine, "sleeper", {"seconds": 30})
    eventually((tmp_path / "sleeper-started").exists, 30, "the attempt to start")

    def broken(self: Supervisor) -> None:
        raise RuntimeError("a bug, every time")

    monkeypatch.setattr(Supervisor, "_enforce_deadlines", broken)
    thread.join(30)
    assert not thread.is_alive()
    assert len(ended) == 1 and isinstance(ended[0], WorkerFailed), ended
    assert "a bug, every time" in ended[0].message
    run = live_engine.retrieve("dev", run_id)
    assert (run["status"], run["attempts"]) == ("QUEUED", 0)  # handed back, no attempt spent


def test_the_worker_command_never_exits_unsaid(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "tasks", root / "tasks")
    (root / "outlast.toml").write_text('project = "faults"\ndirs = ["tasks"]\n')
    monkeypatch.chdir(root)
    for name in [n for n in os.environ if n.startswith("OUTLAST_")]:
        monkeypatch.delenv(name)

    closed: list[Store] = []

    def broken_pipe(self: Supervisor) -> None:
        store, real_close = self.engine.store, self.engine.store.close
        monkeypatch.setattr(store, "close", lambda: (closed.append(store), real_close()))
        raise BrokenPipeError(32, "Broken pipe")  # click alone exits 1 and says nothing

    monkeypatch.setattr(Supervisor, "run", broken_pipe)
    result = CliRunner().invoke(cli, ["worker", "--database-url", store_url])
    assert result.exit_code == 1
    assert "error: the worker stopped on an unexpected error" in result.stderr, result.output
    # its database connections too: an open pool left to the garbage collector warns
    # later, in whatever runs then
    assert len(closed) == 1


def test_the_supervisor_never_talks_to_a_child_inside_a_write_transaction(
        live_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process stopped (or slowed) while it holds the write lock stalls every writer
    of a SQLite file; a pipe to a child can block, so none is touched inside one."""
    state = threading.local()
    seen: list[str] = []
    real_tx = live_engine.store.transaction

    @contextlib.contextmanager
    def tracked(write: bool = True) -> Iterator[Any]:
        outer = getattr(state, "writing", False)
        state.writing = outer or write
        try:
            with real_tx(write) as tx:
                yield tx
        finally:
            state.writing = outer

    def watched(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if getattr(state, "writing", False):
                seen.append(name)
            return real(*args, **kwargs)
        return call

    monkeypatch.setattr(live_engine.store, "transaction", tracked)
    for name in ("send", "kill", "stop"):
        monkeypatch.setattr(Child, name, watched(name, getattr(Child, name)))
    monkeypatch.setattr(Supervisor, "_read_child",
                        watched("recv", Supervisor._read_child))
    with running_worker(live_engine, concurrency=2):
        runs = [trigger(live_engine, "hello-world", {"name": str(i)}) for i in range(20)]
        runs += [trigger(live_engine, task_id) for task_id in
                 ("two-steps", "spawns-child", "exits", "flaky")]
        runs.append(trigger(live_engine, "hooked", {"fail": True}))
        for run_id in runs:
            wait_final(live_engine, run_id)
        canceled = trigger(live_engine, "sleeper", {"seconds": 30})
        wait_status(live_engine, canceled, "EXECUTING")
        live_engine.cancel("dev", canceled)
        wait_final(live_engine, trigger(live_engine, "hello-world", {"name": "last"}))
    assert seen == []
