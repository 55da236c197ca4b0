"""``outlast deploy`` through the real command, on both stores: the first deploy, the same
code again, changed code (the old version drains and says what it holds), ``--check``
registering nothing, ``--move-safe`` moving exactly the runs that replay cleanly,
``--dry-run`` writing nothing, and a bad version refused."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.engine.version_admin import VersionAdmin
from outlast.store import open_store
from outlast.testing import TestRuns
from tests.eventually import eventually
from tests.replay import versions as code
from tests.replay.test_deploy_check import BROKEN, FIXED
from tests.versions.support import execute, pin
from tests.worker.support import running_worker

IN_FLIGHT = ["sms", "renamed", "reordered", "removed", "unchanged", "grown"]
CLEAN = {"sms", "unchanged", "grown"}  # replay cleanly on BROKEN; the others would not


def outlast_deploy(tmp_path: Path, store_url: str, source: str, *args: str,
                   environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``outlast deploy ARGS`` in a fresh project whose one task file is ``source``."""
    project = tmp_path / f"project-{len(list(tmp_path.iterdir()))}"
    (project / "tasks").mkdir(parents=True)
    (project / "outlast.toml").write_text('dirs = ["tasks"]\n')
    (project / "tasks" / "flows.py").write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    return subprocess.run(
        [sys.executable, "-m", "outlast.cli.main", "deploy", "--database-url", store_url,
         *args], cwd=project, env=env | (environ or {}), capture_output=True, text=True,
        timeout=120, check=False)


def deployed_version(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"^version (\S+) ", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return found.group(1)


@pytest.fixture
def engine_on(store_url: str) -> Iterator[Engine]:
    store = open_store(store_url)
    store.migrate()
    yield Engine(store)
    store.close()


def versions_of(engine: Engine) -> dict[str, tuple[str, str]]:
    """{version: (state, source)} of the dev environment."""
    return {v["version"]: (v["state"], v["source"]) for v in VersionAdmin(engine).list("dev")}


def pinned_versions(engine: Engine, env: TestRuns) -> dict[str, Any]:
    """{task id: the version its run in flight is pinned to}."""
    return {r.task: r.version for r in env.client.runs.list()
            if r.status not in ("COMPLETED",)}


@pytest.fixture
def in_flight(store_url: str, tmp_path: Path,
              engine_on: Engine) -> Iterator[tuple[TestRuns, str]]:
    """A first deploy of ``FIXED`` (the code the runs were recorded on, as far as their
    records go), and a run of each task waiting on a token, pinned to that version."""
    first = deployed_version(outlast_deploy(tmp_path, store_url, FIXED))
    with TestRuns(code.v1, environment="dev", database_url=store_url) as env:
        for task_id in IN_FLIGHT:
            run = env.run(task_id, {})
            assert run.status == "WAITING"
            pin(engine_on, run.id, first)
        code.executed.clear()
        yield env, first


def test_first_deploy_is_new_and_current_and_the_same_code_again_changes_nothing(
        store_url: str, tmp_path: Path, engine_on: Engine) -> None:
    done = outlast_deploy(tmp_path, store_url, FIXED)
    version = deployed_version(done)
    assert f"version {version} (new) is current; previous current version: none" in done.stdout
    assert versions_of(engine_on) == {version: ("current", "deploy")}
    # its tasks are registered: a trigger by id works before any worker starts
    assert engine_on.definition("dev", "sms").id == "sms"
    assert "database is up to date" in done.stderr or "applied migrations" in done.stderr

    again = outlast_deploy(tmp_path, store_url, FIXED)
    assert again.returncode == 0, again.stderr
    assert f"version {version} is already current: nothing to promote" in again.stdout
    assert versions_of(engine_on) == {version: ("current", "deploy")}


def test_a_given_version_names_the_deploy(store_url: str, tmp_path: Path,
                                          engine_on: Engine) -> None:
    done = outlast_deploy(tmp_path, store_url, FIXED, "--version", "20261204.1")
    assert deployed_version(done) == "20261204.1"
    from_env = outlast_deploy(tmp_path, store_url, FIXED,
                              environ={"OUTLAST_VERSION": "20261204.2"})
    assert deployed_version(from_env) == "20261204.2"
    assert versions_of(engine_on) == {"20261204.1": ("draining", "deploy"),
                                      "20261204.2": ("current", "deploy")}


def test_changed_code_becomes_current_and_the_old_version_keeps_its_runs(
        in_flight: tuple[TestRuns, str], store_url: str, tmp_path: Path,
        engine_on: Engine) -> None:
    env, first = in_flight
    done = outlast_deploy(tmp_path, store_url, BROKEN)
    second = deployed_version(done)
    assert second != first
    out = done.stdout
    assert f"version {second} (new) is current; previous current version: {first}" in out
    assert "6 runs in flight checked: 3 would break on this code" in out  # informational
    assert (f"version {first} still has 6 unfinished runs (6 WAITING) pinned to it: keep a "
            f"worker of version {first} running, e.g. `outlast worker --version {first} "
            f"--exit-when-drained`, or move its runs with `outlast runs move ID --version "
            f"{second}`") in out
    assert "safe to stop" not in out
    assert versions_of(engine_on) == {first: ("draining", "deploy"),
                                      second: ("current", "deploy")}
    assert set(pinned_versions(engine_on, env).values()) == {first}  # nothing moved
    assert code.executed == []


def test_a_drained_version_is_safe_to_stop(in_flight: tuple[TestRuns, str], store_url: str,
                                           tmp_path: Path, engine_on: Engine) -> None:
    env, first = in_flight
    execute(engine_on, "UPDATE runs SET status = 'CANCELED'")
    done = outlast_deploy(tmp_path, store_url, BROKEN)
    deployed_version(done)
    assert f"safe to stop: the workers of version {first} (no unfinished run needs them)" \
        in done.stdout
    assert "still has" not in done.stdout


def test_check_keeps_its_meaning_and_registers_nothing(
        in_flight: tuple[TestRuns, str], store_url: str, tmp_path: Path,
        engine_on: Engine) -> None:
    env, first = in_flight
    before = versions_of(engine_on)
    done = outlast_deploy(tmp_path, store_url, BROKEN, "--check")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "6 runs in flight checked: 3 would break on this code"
    assert versions_of(engine_on) == before
    refused = outlast_deploy(tmp_path, store_url, BROKEN, "--check", "--move-safe")
    assert refused.returncode == 2
    assert "--check only checks" in refused.stderr


def test_move_safe_moves_exactly_the_runs_that_replay_cleanly(
        in_flight: tuple[TestRuns, str], store_url: str, tmp_path: Path,
        engine_on: Engine) -> None:
    env, first = in_flight
    done = outlast_deploy(tmp_path, store_url, BROKEN, "--move-safe")
    second = deployed_version(done)
    pinned = pinned_versions(engine_on, env)
    assert {t for t, v in pinned.items() if v == second} == CLEAN
    assert {t for t, v in pinned.items() if v == first} == set(IN_FLIGHT) - CLEAN
    out = done.stdout
    assert f"moved 3 runs of other versions to {second}: they replay cleanly" in out
    assert "3 stay pinned to their version:" in out
    assert "code calls step 'charge-card'" in out and "task 'removed' is gone" in out
    assert f"version {first} still has 3 unfinished runs (3 WAITING)" in out
    [moved] = [r for r in env.client.runs.list(task="sms")]
    events = [e for e in env.client.runs.events(moved.id) if e.kind == "move_version"]
    assert [(e.data["version"], e.data["previous"]) for e in events] == [(second, first)]


def test_dry_run_says_what_would_happen_and_writes_nothing(
        in_flight: tuple[TestRuns, str], store_url: str, tmp_path: Path,
        engine_on: Engine) -> None:
    env, first = in_flight
    before = versions_of(engine_on), pinned_versions(engine_on, env)
    done = outlast_deploy(tmp_path, store_url, BROKEN, "--move-safe", "--dry-run")
    second = deployed_version(done)
    out = done.stdout
    assert f"version {second} (new) would be current; previous current version: {first}" \
        in out
    assert f"would move 3 runs of other versions to {second}" in out
    assert out.splitlines()[-1] == "dry run: nothing was written"
    assert (versions_of(engine_on), pinned_versions(engine_on, env)) == before


@pytest.mark.parametrize(("args", "environ", "says"), [
    (["--version", "no spaces"], {}, "--version 'no spaces' is not a version name"),
    ([], {"OUTLAST_VERSION": "no/slash"}, "OUTLAST_VERSION 'no/slash' is not a version name"),
    (["--dry-run", "--check"], {}, "--check only checks"),
])
def test_a_bad_version_is_refused_before_anything_happens(
        args: list[str], environ: dict[str, str], says: str, store_url: str,
        tmp_path: Path, engine_on: Engine) -> None:
    done = outlast_deploy(tmp_path, store_url, FIXED, *args, environ=environ)
    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert versions_of(engine_on) == {}


def test_move_safe_queues_a_clean_parked_run_and_leaves_an_executing_one(
        in_flight: tuple[TestRuns, str], store_url: str, tmp_path: Path,
        engine_on: Engine) -> None:
    env, first = in_flight
    runs = {r.task: r.id for r in env.client.runs.list()}
    execute(engine_on, "UPDATE runs SET status = 'PARKED', parked = '{}' "
                       f"WHERE id = '{runs['unchanged']}'")
    execute(engine_on, f"UPDATE runs SET status = 'EXECUTING' WHERE id = '{runs['grown']}'")
    done = outlast_deploy(tmp_path, store_url, BROKEN, "--move-safe")
    second = deployed_version(done)
    parked = env.client.runs.retrieve(runs["unchanged"])
    assert (parked.status, parked.version) == ("QUEUED", second)
    executing = env.client.runs.retrieve(runs["grown"])
    assert (executing.status, executing.version) == ("EXECUTING", first)
    assert f"moved 2 runs of other versions to {second}" in done.stdout
    assert re.search(rf"{runs['grown']}\s+{first}\s+EXECUTING: its attempt runs the code",
                     done.stdout), done.stdout


def test_workers_started_from_the_deployed_code_run_the_deployed_version(
        store_url: str, tmp_path: Path, engine_on: Engine) -> None:
    release = (Path(__file__).parent / "projects" / "v1" / "tasks" / "deploy_tasks.py")
    done = outlast_deploy(tmp_path, store_url, release.read_text())
    version = deployed_version(done)
    [root] = tmp_path.glob("project-*")  # where that deploy ran
    engine = Engine(engine_on.store, lease_seconds=5)
    with running_worker(engine, root=root, probe="a") as worker:
        eventually(lambda: worker.version.code is not None, 30, "the worker's version")
        assert worker.version.code is not None
        assert worker.version.code.version == version
    assert versions_of(engine_on) == {version: ("current", "deploy")}
