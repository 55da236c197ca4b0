"""Lifecycle hooks and middleware on a real worker (children as processes), both stores.

The project (``project/``) declares hooks three ways: in ``outlast.toml`` by import path
(a middleware and an ``on_failure``), in code with ``outlast.hooks`` (a middleware,
``init``, ``cleanup``, ``on_complete``), and on each task. Every hook writes a line per
call (``tasks/recording.py``), so each test reads the order in which they ran.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

import tests.worker.support as worker_support
from outlast.config import load_config
from outlast.engine import Engine
from outlast.errors import ConfigError
from outlast.store import Store
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.worker.support import trigger, wait_final, wait_status

PROJECT = Path(__file__).parent / "project"

#: the project's middleware around everything: outlast.toml's, then outlast.hooks'
OUTER_IN = ["toml:mw-in", "g:mw-in"]
OUTER_OUT = ["g:mw-out", "toml:mw-out"]
#: one execution of a task with every hook, up to the task's body
SETUP = [*OUTER_IN, "t:mw-in", "g:init", "t:init", "t:on_start", "t:task"]
TEARDOWN = ["t:cleanup", "g:cleanup"]


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return tmp_path


@pytest.fixture
def live_engine(store: Store, out: Path) -> Iterator[Engine]:
    yield Engine(store, lease_seconds=3)


def running_worker(engine: Engine, **kwargs: Any) -> AbstractContextManager[Supervisor]:
    """A worker over the hook project, with its outlast.toml's [hooks]."""
    defaults = load_config(PROJECT, environ={}).task_defaults()
    return worker_support.running_worker(engine, 2, root=PROJECT, probe="hooks-probe",
                                         task_defaults=defaults, **kwargs)


def recorded(out: Path, run_id: str) -> list[dict[str, Any]]:
    """What the project's hooks wrote for ``run_id`` (``tasks/recording.py``), in order."""
    path = out / "calls"
    lines = [json.loads(x) for x in path.read_text().splitlines() if x] if path.exists() else []
    return [line for line in lines if line["run"] == run_id]


def calls_of(out: Path, run_id: str) -> list[str]:
    return [line["call"] for line in recorded(out, run_id)]


def details_of(out: Path, run_id: str, call: str) -> list[Any]:
    return [line.get("detail") for line in recorded(out, run_id) if line["call"] == call]


def events_of(engine: Engine, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in engine.events(run_id) if e["kind"] == kind]


# -- order ------------------------------------------------------------------------------


def test_success_runs_every_hook_in_order(live_engine: Engine, out: Path) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-ordered", {}))
        eventually(lambda: "t:on_complete" in calls_of(out, run["id"]), 10, "on_complete")
    assert run["status"] == "COMPLETED"
    assert calls_of(out, run["id"]) == [
        *SETUP, *TEARDOWN, "t:mw-out", *OUTER_OUT,
        "t:on_success", "g:on_complete", "t:on_complete"]
    # init's value reaches the task and the hooks after it; middleware's locals the task
    assert run["output"] == {"init": {"db": "handle"}, "trace": "from-middleware",
                             "client": {"connected": True}}
    assert details_of(out, run["id"], "t:on_success") == [{"init": {"db": "handle"}}]
    assert details_of(out, run["id"], "g:on_complete") == [{"ok": True, "status": "COMPLETED"}]


def test_an_async_task_runs_its_hooks_in_the_same_order(live_engine: Engine,
                                                        out: Path) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-async", {}))
        eventually(lambda: "t:on_complete" in calls_of(out, run["id"]), 10, "on_complete")
    assert run["output"] == {"init": {"db": "handle"}, "trace": "from-middleware"}
    assert calls_of(out, run["id"]) == [
        *SETUP, "t:on_wait:sleep:here", "t:on_resume:sleep:here", *TEARDOWN, "t:mw-out",
        *OUTER_OUT, "t:on_success", "g:on_complete", "t:on_complete"]


def test_failure_then_retry_then_success(live_engine: Engine, out: Path) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-flaky", {}))
        eventually(lambda: "t:on_complete" in calls_of(out, run["id"]), 10, "on_complete")
    assert (run["status"], run["output"]) == ("COMPLETED", 2)
    # a failed attempt unwinds middleware (the task's does not reach its "out"), cleans up,
    # asks handle_error, and calls no final hook: the run goes on
    assert calls_of(out, run["id"]) == [
        *SETUP, *TEARDOWN, *OUTER_OUT, "t:handle_error",
        *SETUP, *TEARDOWN, "t:mw-out", *OUTER_OUT,
        "t:on_success", "g:on_complete", "t:on_complete"]


def test_final_failure_calls_on_failure_then_on_complete(live_engine: Engine,
                                                          out: Path) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-fails", {}))
        eventually(lambda: "t:on_complete" in calls_of(out, run["id"]), 10, "on_complete")
    assert run["status"] == "FAILED"
    assert calls_of(out, run["id"]) == [
        *SETUP, *TEARDOWN, *OUTER_OUT,
        "toml:on_failure", "t:on_failure", "g:on_complete", "t:on_complete"]
    assert details_of(out, run["id"], "toml:on_failure") == ["ValueError"]
    assert details_of(out, run["id"], "g:on_complete") == [{"ok": False, "status": "FAILED"}]


def test_suspension_and_resume_across_a_sleep_and_a_token(live_engine: Engine,
                                                          out: Path) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "hk-waits", {})
        eventually(lambda: calls_of(out, run_id).count("t:task") == 2, 30, "the sleep's resume")
        wait_status(live_engine, run_id, "WAITING", 30)
        [token] = live_engine.durable.list_tokens("dev", run_id=run_id, status="PENDING")[0]
        live_engine.durable.complete_token("dev", token["id"], "yes")
        run = wait_final(live_engine, run_id)
        eventually(lambda: "t:on_complete" in calls_of(out, run_id), 10, "on_complete")
    assert (run["status"], run["output"]) == ("COMPLETED", "yes")
    # each execution runs middleware, init and cleanup; on_wait fires as the attempt
    # suspends, on_resume as the next execution replays past the wait it suspended on
    assert calls_of(out, run_id) == [
        *SETUP, "t:on_wait:sleep:here", "t:on_resume:sleep:here", "t:on_wait:sleep:away",
        *TEARDOWN, *OUTER_OUT,
        *SETUP, "t:on_resume:sleep:away", "t:on_wait:token:away", *TEARDOWN, *OUTER_OUT,
        *SETUP, "t:on_resume:token:away", *TEARDOWN, "t:mw-out", *OUTER_OUT,
        "t:on_success", "g:on_complete", "t:on_complete"]


def test_cancel_calls_the_failure_hooks_in_a_hook_job(live_engine: Engine, out: Path) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "hk-token", {})
        wait_status(live_engine, run_id, "WAITING")
        live_engine.cancel("dev", run_id)
        eventually(lambda: "t:on_complete" in calls_of(out, run_id), 20, "the hook job")
    assert calls_of(out, run_id) == [
        *SETUP, "t:on_wait:token:away", *TEARDOWN, *OUTER_OUT,
        "toml:on_failure", "t:on_failure", "g:on_complete", "t:on_complete"]
    assert details_of(out, run_id, "g:on_complete") == [{"ok": False, "status": "CANCELED"}]


def test_a_crash_skips_cleanup_and_calls_the_failure_hooks_after(live_engine: Engine,
                                                                 out: Path) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-crashes", {}))
        eventually(lambda: "t:on_complete" in calls_of(out, run["id"]), 20, "the hook job")
    assert run["status"] == "CRASHED"
    # the process died in the task: nothing of it could clean up; a hook job ends the run
    assert calls_of(out, run["id"]) == [
        *SETUP, "toml:on_failure", "t:on_failure", "g:on_complete", "t:on_complete"]


# -- a hook's own error --------------------------------------------------------------------


def test_hook_errors_are_reported_and_the_result_is_kept(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-broken-hooks", {}))
        eventually(lambda: len(events_of(live_engine, run["id"], "hook_error")) == 6, 10,
                   "six hook_error events")
    assert (run["status"], run["output"]) == ("COMPLETED", {"kept": True})
    reported = [(e["data"]["hook"], e["data"]["error"]["message"])
                for e in events_of(live_engine, run["id"], "hook_error")]
    assert reported == [("on_start", "on_start broke"), ("on_wait", "on_wait broke"),
                        ("on_resume", "on_resume broke"), ("cleanup", "cleanup broke"),
                        ("on_success", "on_success broke"), ("on_complete", "on_complete broke")]
    errors = [log["message"] for log in live_engine.logs(run["id"]) if log["level"] == "ERROR"]
    assert any(m.startswith("on_success hook ") and "on_success broke" in m for m in errors)


def test_a_failing_on_failure_keeps_the_runs_failure(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run = wait_final(live_engine, trigger(live_engine, "hk-broken-failure", {}))
        eventually(lambda: events_of(live_engine, run["id"], "hook_error"), 10, "hook_error")
    assert run["status"] == "FAILED"
    assert run["error"]["message"] == "the task's own error"
    [event] = events_of(live_engine, run["id"], "hook_error")
    assert event["data"]["hook"] == "on_failure" and event["status"] == "FAILED"


def test_init_and_middleware_errors_fail_the_attempt(live_engine: Engine, out: Path) -> None:
    with running_worker(live_engine):
        init = wait_final(live_engine, trigger(live_engine, "hk-broken-init", {}))
        no_next = wait_final(live_engine, trigger(live_engine, "hk-no-next", {}))
        durable = wait_final(live_engine, trigger(live_engine, "hk-durable-in-init", {}))
    assert (init["status"], init["error"]["message"]) == ("FAILED", "init broke")
    assert "t:task" not in calls_of(out, init["id"])
    assert "t:cleanup" in calls_of(out, init["id"])  # cleanup runs even so
    assert [e["data"]["hook"] for e in events_of(live_engine, init["id"], "hook_error")] == [
        "init"]
    assert no_next["status"] == "FAILED"
    assert "without calling next()" in no_next["error"]["message"]
    assert "t:task" not in calls_of(out, no_next["id"])
    assert durable["error"]["type"] == "DurableUsageError"
    assert "init hook" in durable["error"]["message"]


# -- handle_error ----------------------------------------------------------------------------


def retry_event(engine: Engine, run_id: str) -> dict[str, Any]:
    [event] = events_of(engine, run_id, "retry")
    return event


def test_handle_error_retries_at_a_time_after_a_delay_or_on_a_machine(
        live_engine: Engine) -> None:
    at = live_engine.clock.now() + 1.5
    with running_worker(live_engine):
        timed = trigger(live_engine, "hk-decides", {"how": "at", "at": at})
        delayed = trigger(live_engine, "hk-decides", {"how": "after", "seconds": 0.75})
        moved = trigger(live_engine, "hk-decides", {"how": "machine"})
        runs = {r: wait_final(live_engine, r) for r in (timed, delayed, moved)}
    assert all(run["status"] == "COMPLETED" for run in runs.values())
    assert retry_event(live_engine, timed)["data"]["available_at"] == pytest.approx(at)
    event = retry_event(live_engine, delayed)
    assert event["data"]["available_at"] - event["at"] == pytest.approx(0.75)
    assert runs[moved]["output"] == {"attempt": 2, "machine": "large-1x"}
    assert runs[delayed]["output"] == {"attempt": 2, "machine": "small-1x"}


def test_handle_error_skips_or_breaks(live_engine: Engine) -> None:
    with running_worker(live_engine):
        skipped = wait_final(live_engine, trigger(live_engine, "hk-decides", {"how": "skip"}))
        broken = wait_final(live_engine, trigger(live_engine, "hk-decides", {"how": "raise"}))
    assert (skipped["status"], skipped["attempts"]) == ("FAILED", 1)
    # its own error is reported, and the retry policy decides as if it returned None
    assert (broken["status"], broken["attempts"]) == ("COMPLETED", 2)
    [event] = events_of(live_engine, broken["id"], "hook_error")
    assert event["data"]["hook"] == "handle_error"


# -- outlast.toml ---------------------------------------------------------------------------


def test_a_hook_path_that_does_not_import_stops_the_worker_naming_the_key(
        live_engine: Engine) -> None:
    defaults = {**load_config(PROJECT, environ={}).task_defaults(),
                "hooks": {"where": "outlast.toml [hooks]",
                          "declared": {"on_failure": ["hookslib.alerts:missing"]}}}
    sup = Supervisor(live_engine, environment="dev", task_dirs=["tasks"], root=PROJECT,
                     concurrency=1, task_defaults=defaults)
    with pytest.raises(ConfigError) as caught:
        sup.run()
    assert "outlast.toml [hooks] on_failure" in caught.value.message
    assert "'hookslib.alerts' has no 'missing'" in caught.value.message
