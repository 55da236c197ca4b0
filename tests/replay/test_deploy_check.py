"""The deploy check: replay the runs in flight against new code, do nothing, and say which
would break — the runs of a renamed step, a reordered step and a removed task — and
which would not: unchanged code, steps added after where the runs stopped, a ``patched``
branch. On both stores, and through the real ``outlast deploy --check``."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from outlast import LocalKey, metadata, step, streams, tags, task
from outlast.engine.replay_reads import Scope, scope_of
from outlast.engine.versions import register
from outlast.errors import ValidationError
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from outlast.worker.replay import (
    Ending,
    RecordedRun,
    ReplayEnd,
    Verdict,
    check_environment,
    check_runs,
    judge,
)
from tests.replay import tasks, versions

GOLDEN = Path(__file__).parent / "golden"
ROOT = Path(__file__).resolve().parents[2]

MISMATCH = {"seq": 1, "recorded": {"kind": "step", "name": "a"},
            "called": {"kind": "step", "name": "b"}}

# -- the verdict, from how a replay ended --------------------------------------------------


@pytest.mark.parametrize(("ending", "expected"), [
    (None, Verdict("r", "t", "task_missing")),
    (Ending(3, 3), Verdict("r", "t", "ok")),                            # returned at the end
    (Ending(1, 3), Verdict("r", "t", "ok")),                            # returned early
    (Ending(3, 3, ReplayEnd("#3 past")), Verdict("r", "t", "ok")),      # would go on live
    (Ending(2, 3, ReplayEnd("#2 waiting")), Verdict("r", "t", "ok")),   # a pending wait
    (Ending(2, 3, ValueError("x"), MISMATCH),
     Verdict("r", "t", "non_determinism", 1, MISMATCH["recorded"], MISMATCH["called"])),
    (Ending(3, 3, None, MISMATCH),                                      # caught by task code
     Verdict("r", "t", "non_determinism", 1, MISMATCH["recorded"], MISMATCH["called"])),
    (Ending(1, 3, KeyError("k")),
     Verdict("r", "t", "raised", 1, error={"type": "KeyError", "message": "'k'"})),
    (Ending(3, 3, KeyError("k")), Verdict("r", "t", "ok")),             # past the record
    (Ending(0, 0, ValidationError("bad payload"), payload_ok=False),
     Verdict("r", "t", "raised", 0, error={"type": "ValidationError",
                                            "message": "bad payload"})),
])
def test_the_verdict_on_a_replay(ending: Ending | None, expected: Verdict) -> None:
    verdict = judge("r", "t", ending)
    assert verdict == expected
    assert verdict.breaks is (expected.kind != "ok")


def test_a_verdict_describes_itself() -> None:
    assert judge("r", "t", None).describe() == "task 't' is gone"
    mismatch = judge("r", "t", Ending(2, 3, None, MISMATCH)).describe()
    assert mismatch == "#1: recorded step 'a', code calls step 'b'"
    raised = judge("r", "t", Ending(1, 3, KeyError("k"))).describe()
    assert raised == "#1: raised KeyError: 'k'"


# -- replays in memory -----------------------------------------------------------------------


def row(run_id: str, task_id: str, payload: Any) -> dict[str, Any]:
    """A ``runs`` row as the check reads it: what building a run's context needs."""
    return {"id": run_id, "task_id": task_id, "payload": json.dumps(payload), "tags": "[]",
            "metadata": "{}", "created_at": 1_700_000_000.0, "max_attempts": 3,
            "queue": task_id, "machine": "small-1x", "attempt_count": 2}


def golden_run(path: Path) -> tuple[RecordedRun, dict[str, Any]]:
    golden = json.loads(path.read_text())
    return (RecordedRun(row(golden.get("run_id", path.stem), golden["task"], golden["payload"]),
                        golden["journal"]), golden["expect"])


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_journals_pass_the_check_as_they_replay(path: Path) -> None:
    tasks.executed.clear()
    recorded, expect = golden_run(path)
    [verdict] = check_runs(tasks.reg, [recorded])
    if "non_determinism" in expect:
        mismatch = expect["non_determinism"]
        assert (verdict.kind, verdict.seq, verdict.recorded, verdict.called) == (
            "non_determinism", mismatch["seq"], mismatch["recorded"], mismatch["called"])
    else:
        assert verdict.kind == "ok", verdict
    assert tasks.executed == [], "a step body ran during the check"


checks = Registry()
touched: list[str] = []


@task(id="noisy", registry=checks)
def noisy(payload: Any) -> str:
    print("a print during the check")
    metadata.set("progress", 0.5)
    metadata.increment("progress", 0.25)
    tags.add("checked")
    streams.append("out", {"chunk": 1})
    first = step.run("first", lambda: touched.append("first") or "1")
    assert metadata.get("progress") == 0.75
    step.run("second", lambda: touched.append("second") or "2")  # past the record
    return first


@task(id="eager", registry=checks)
def eager(payload: Any) -> None:
    touched.append("eager")  # code before the first step runs again on every replay
    step.run("first", lambda: touched.append("first"))


@task(id="raises", registry=checks)
def raises(payload: Any) -> None:
    step.run("first", lambda: touched.append("first"))
    raise RuntimeError(f"broken for {payload['n']}")


@dataclass
class Order:
    order_id: str  # was ``order`` when the run was triggered


@task(id="typed", registry=checks)
def typed(payload: Order) -> str:
    return payload.order_id


def journal(*names: str) -> list[dict[str, Any]]:
    return [{"seq": i, "kind": "step", "name": n, "status": "ok", "result": n}
            for i, n in enumerate(names)]


def test_a_replay_sends_nothing_anywhere_and_runs_no_new_step(
        capsys: pytest.CaptureFixture[str]) -> None:
    touched.clear()
    [verdict] = check_runs(checks, [RecordedRun(row("r1", "noisy", None), journal("first"))])
    assert verdict.kind == "ok"
    assert touched == []
    assert capsys.readouterr().out == ""  # prints are captured and dropped


def test_code_that_raises_before_the_end_of_the_record_would_break() -> None:
    recorded = [RecordedRun(row("r1", "raises", {"n": 1}), journal("first", "second")),
                RecordedRun(row("r2", "raises", {"n": 2}), journal("first"))]
    verdicts = check_runs(checks, recorded)
    assert [(v.run_id, v.kind, v.seq) for v in verdicts] == [("r1", "raised", 1),
                                                             ("r2", "ok", None)]
    assert verdicts[0].error == {"type": "RuntimeError", "message": "broken for 1"}


def test_a_run_with_nothing_recorded_runs_no_code() -> None:
    touched.clear()
    verdicts = check_runs(checks, [RecordedRun(row("r1", "eager", None), []),
                                   RecordedRun(row("r2", "eager", None), journal("first"))])
    assert [v.kind for v in verdicts] == ["ok", "ok"]
    assert touched == ["eager"]  # only the run with a record to replay ran its code


def test_a_payload_that_no_longer_loads_would_break() -> None:
    [verdict] = check_runs(checks, [RecordedRun(row("r1", "typed", {"order": 7}), [])])
    assert (verdict.kind, verdict.seq) == ("raised", 0)


# -- runs in flight, on both stores ----------------------------------------------------------

IN_FLIGHT = ["sms", "renamed", "reordered", "removed", "unchanged", "grown"]
BREAK = {
    "renamed": ("non_determinism", 0, {"kind": "step", "name": "charge"},
                {"kind": "step", "name": "charge-card"}),
    "reordered": ("non_determinism", 0, {"kind": "step", "name": "a"},
                  {"kind": "step", "name": "b"}),
    "removed": ("task_missing", None, None, None),
}


@pytest.fixture
def recorded(store_url: str) -> Iterator[TestRuns]:
    """Runs of ``v1`` in flight (each waits on a token), and one that finished."""
    with TestRuns(versions.v1, environment="dev", database_url=store_url) as env:
        for task_id in IN_FLIGHT:
            assert env.run(task_id, {}).status == "WAITING"
        finished = env.run("unchanged", {})
        [token] = env.tokens(finished.id)
        env.complete_token(token["id"])
        assert env.run_until_final(finished.id).status == "COMPLETED"
        versions.executed.clear()
        yield env


def outcomes(verdicts: list[Verdict]) -> dict[str, tuple[Any, ...]]:
    return {v.task_id: (v.kind, v.seq, v.recorded, v.called) for v in verdicts if v.breaks}


def test_the_check_finds_exactly_the_runs_that_would_break(recorded: TestRuns) -> None:
    verdicts = check_environment(recorded.store, "dev", registry=versions.v2, page=2)
    assert sorted(v.task_id for v in verdicts) == sorted(IN_FLIGHT)  # not the finished one
    assert outcomes(verdicts) == BREAK
    assert versions.executed == []


def test_the_code_the_runs_were_recorded_on_passes(recorded: TestRuns) -> None:
    verdicts = check_environment(recorded.store, "dev", registry=versions.v1)
    assert [v for v in verdicts if v.breaks] == []
    assert check_environment(recorded.store, "prod", registry=versions.v2) == []


def test_the_check_reads_only_the_runs_of_a_version(recorded: TestRuns,
                                                    store_url: str) -> None:
    runs = {v.task_id: v.run_id for v in check_environment(recorded.store, "dev",
                                                           registry=versions.v1)}
    pin(store_url, runs["renamed"], "20261204.1")
    pin(store_url, runs["unchanged"], "20261204.1")
    verdicts = check_environment(recorded.store, "dev", version="20261204.1",
                                 registry=versions.v2)
    assert sorted(v.task_id for v in verdicts) == ["renamed", "unchanged"]
    assert outcomes(verdicts) == {"renamed": BREAK["renamed"]}


def test_the_check_reads_the_current_version_and_the_runs_not_pinned_yet(
        recorded: TestRuns, store_url: str) -> None:
    runs = {v.task_id: v.run_id for v in check_environment(recorded.store, "dev",
                                                           registry=versions.v1)}
    pin(store_url, runs["renamed"], "v-current")
    pin(store_url, runs["unchanged"], "v-old")   # stays with its own version's workers
    with recorded.store.transaction() as tx:
        register(tx, "dev", "v-old", [], source="deploy", now=1.0)
        register(tx, "dev", "v-current", [], source="deploy", now=2.0)
    scope = scope_of(recorded.store, "dev")
    assert scope == Scope("v-current", unpinned=True)
    verdicts = check_environment(recorded.store, "dev", registry=versions.v2)
    assert sorted(v.task_id for v in verdicts) == sorted(set(IN_FLIGHT) - {"unchanged"})
    assert outcomes(verdicts) == BREAK
    assert [v.task_id for v in check_environment(recorded.store, "dev", version="v-old",
                                                 registry=versions.v2)] == ["unchanged"]


def test_a_version_to_check_must_be_a_version_name(recorded: TestRuns) -> None:
    with pytest.raises(ValidationError, match="not a version name"):
        check_environment(recorded.store, "dev", version="no spaces", registry=versions.v2)


def pin(store_url: str, run_id: str, version: str) -> None:
    """What a versioned worker's claim does to a run (set here directly)."""
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE runs SET version = ? WHERE id = ?", (version, run_id))
        return
    with psycopg.connect(store_url) as conn:
        conn.execute("UPDATE runs SET version = %s WHERE id = %s", (version, run_id))


# -- the real command ------------------------------------------------------------------------

PROJECT_HEAD = '''
from outlast import patched, step, task, wait


def body(name, value=None):
    return value if value is not None else name


def approve():
    return bool(wait.for_token(wait.create_token(timeout="1h")).ok)


@task(id="sms")
def sms(payload):
    step.run("prepare", body, "prepare")
    if patched("sms-v2"):
        sent = step.run("send-sms-v2", body, "send-sms-v2", "v2")
    else:
        sent = step.run("send-sms", body, "send-sms", "v1")
    return {"sent": sent, "approved": approve()}


@task(id="unchanged")
def unchanged(payload):
    step.run("a", body, "a")
    approve()
    return "done"


@task(id="grown")
def grown(payload):
    step.run("a", body, "a")
    approve()
    step.run("b", body, "b")
    return "done"
'''

BROKEN = PROJECT_HEAD + '''

@task(id="renamed")
def renamed(payload):
    step.run("charge-card", body, "charge-card")
    approve()
    return step.run("ship", body, "ship")


@task(id="reordered")
def reordered(payload):
    step.run("b", body, "b")
    step.run("a", body, "a")
    approve()
    return "done"
'''

FIXED = PROJECT_HEAD + '''

@task(id="renamed")
def renamed(payload):
    step.run("charge", body, "charge")
    approve()
    return step.run("ship", body, "ship")


@task(id="reordered")
def reordered(payload):
    step.run("a", body, "a")
    step.run("b", body, "b")
    approve()
    return "done"


@task(id="removed")
def removed(payload):
    approve()
    return "done"
'''


def deploy_check(tmp_path: Path, store_url: str, code: str,
                 *extra: str) -> subprocess.CompletedProcess[str]:
    project = tmp_path / f"project-{len(list(tmp_path.iterdir()))}"
    (project / "tasks").mkdir(parents=True)
    (project / "outlast.toml").write_text('dirs = ["tasks"]\n')
    (project / "tasks" / "flows.py").write_text(textwrap.dedent(code))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    return subprocess.run(
        [sys.executable, "-m", "outlast.cli.main", "deploy", "--check",
         "--database-url", store_url, *extra],
        cwd=project, env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_deploy_check_exits_1_and_lists_the_runs_that_would_break(
        recorded: TestRuns, store_url: str, tmp_path: Path) -> None:
    done = deploy_check(tmp_path, store_url, BROKEN)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "6 runs in flight checked: 3 would break on this code"
    table = "\n".join(lines[:-1])
    assert "renamed" in table and "step 'charge'" in table and "step 'charge-card'" in table
    assert "reordered" in table and "#0" in table
    assert "removed" in table and "task is gone" in table
    for fine in ("sms", "unchanged", "grown"):
        assert f" {fine} " not in table


def test_deploy_check_exits_0_when_no_run_would_break(recorded: TestRuns, store_url: str,
                                                      tmp_path: Path) -> None:
    done = deploy_check(tmp_path, store_url, FIXED)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == ["6 runs in flight checked: none would break on this code"]


def test_deploy_check_of_one_version_reads_only_its_runs(recorded: TestRuns, store_url: str,
                                                         tmp_path: Path) -> None:
    [renamed] = [r for r in recorded.client.runs.list(task="renamed")]
    pin(store_url, renamed.id, "20261204.1")
    done = deploy_check(tmp_path, store_url, BROKEN, "--version", "20261204.1")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "1 run in flight checked: 1 would break on this code"
    assert renamed.id in done.stdout
    other = deploy_check(tmp_path, store_url, BROKEN, "--version", "20200101.1")
    assert (other.returncode, other.stdout) == (0, "0 runs in flight checked: none would "
                                                   "break on this code\n")


def test_deploy_without_task_directories_says_so_and_writes_nothing(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "outlast.cli.main", "deploy"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "task directory 'tasks' not found" in done.stderr
    assert list(tmp_path.iterdir()) == []  # not even a database file


LOCAL = LocalKey[str]("from-middleware")


def _sets_local(payload: Any, ctx: Any, next: Any) -> Any:
    ctx.locals.set(LOCAL, "set")
    return next()


@task(id="hooked", registry=checks, middleware=[_sets_local], init=lambda p, c: {"n": 2})
def hooked(payload: Any, ctx: Any) -> str:
    value = f"{LOCAL.get()}-{ctx.init['n']}"  # what middleware and init made, as on a worker
    step.run("first", lambda: touched.append("first"))
    return value


def test_a_replay_runs_middleware_and_init_like_a_worker() -> None:
    touched.clear()
    [verdict] = check_runs(checks, [RecordedRun(row("r1", "hooked", None), journal("first"))])
    assert verdict.kind == "ok", verdict
    assert touched == []
