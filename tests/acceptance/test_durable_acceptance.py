"""Durable execution through the real CLI, in subprocesses, on both stores.

``kill -9`` a worker inside a step and between steps: a new worker finishes the run, the
recorded step ran once, one token was created. Two workers on one database execute every
run exactly once. SIGTERM drains a worker. PostgreSQL restarting during a wait does not
lose the run (only where restarting the server is allowed: CI, or
``OUTLAST_TEST_RESTART_POSTGRES=1``).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from outlast.sdk.client import Client
from tests.acceptance.conftest import OUTLAST, Project, Worker
from tests.eventually import eventually

pytestmark = pytest.mark.acceptance


def final(project: Project, run_id: str, timeout: float = 60) -> dict[str, Any]:
    engine = project.engine()
    try:
        return dict(eventually(lambda: (r := engine.retrieve("dev", run_id))["is_final"] and r,
                               timeout, f"run {run_id} to finish"))
    finally:
        engine.store.close()


def status_of(project: Project, run_id: str) -> str:
    engine = project.engine()
    try:
        return str(engine.retrieve("dev", run_id)["status"])
    finally:
        engine.store.close()


def recorded(project: Project, run_id: str) -> list[str]:
    """The names of the run's journal entries."""
    engine = project.engine()
    try:
        return [e["name"] for e in engine.durable.run_journal(run_id)]
    finally:
        engine.store.close()


def test_kill_9_inside_and_between_steps(project: Project,
                                         workers: Callable[..., Worker]) -> None:
    first = workers("w1", "--concurrency", "2")
    run_id = project.outlast("trigger", "acc-order", '{"order_id": "42"}').stdout.split()[0]
    eventually(lambda: project.lines("label-start"), 30, "the label step to start")
    first.kill9()  # inside the step "label": its body ran, its result was not recorded

    second = workers("w2", "--concurrency", "2")
    eventually(lambda: project.lines("between"), 60, "the run to reach the point between "
                                                     "steps on the second worker")
    # the worker writes a step's result a moment after the step (the task goes on):
    # killed once both are written, "label" and "charge" must not run again
    eventually(lambda: len(recorded(project, run_id)) >= 2, 30, "both steps recorded")
    second.kill9()  # between steps: "label" and "charge" are recorded

    workers("w3", "--concurrency", "2")
    [token] = eventually(lambda: project.lines("token"), 60, "the token")
    eventually(lambda: status_of(project, run_id) == "WAITING", 30, "the run to wait")
    done = project.outlast("tokens", "complete", token, '{"approved": true}')
    assert "COMPLETED" in done.stdout
    run = final(project, run_id)

    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] == {"label": "label-42", "charge": "ch_42",
                             "answer": {"approved": True}}
    assert len(project.lines("label-start")) == 2  # lost once before it was recorded
    assert len(project.lines("label-done")) == 1
    assert len(project.lines("charge")) == 1  # recorded: never again
    # code between durable operations runs on every replay: killed, suspended, resumed
    assert len(project.lines("between")) == 3
    assert set(project.lines("token")) == {token}  # the resume replayed the same token
    listed = project.outlast("tokens", "list", "--run", run_id, "--status", "COMPLETED")
    assert listed.stdout.count("token_") == 1 and token in listed.stdout
    engine = project.engine()
    try:
        attempts = [a["status"] for a in engine.attempts(run_id)]
        journal = [(e["kind"], e["name"]) for e in engine.durable.run_journal(run_id)]
    finally:
        engine.store.close()
    assert attempts[:2] == ["CRASHED", "CRASHED"] and attempts[-1] == "COMPLETED", attempts
    assert journal == [("step", "label"), ("step", "charge"), ("create_token", "token"),
                       ("wait_token", token)]


N_RUNS = 200


def test_two_workers_execute_each_run_exactly_once(project: Project,
                                                   workers: Callable[..., Worker]) -> None:
    workers("w1", "--concurrency", "4")
    workers("w2", "--concurrency", "4")
    with Client(database_url=project.database_url) as client:
        handles = client.tasks.batch_trigger("acc-once", [{"payload": i}
                                                          for i in range(N_RUNS)])
        ids = [h.id for h in handles.runs]
    runs = [final(project, run_id, 120) for run_id in ids]
    assert [r["status"] for r in runs] == ["COMPLETED"] * N_RUNS
    assert [r["output"] for r in runs] == list(range(N_RUNS))
    assert {r["attempts"] for r in runs} == {1}
    executed = Counter(project.lines("once"))
    assert set(executed) == set(ids) and set(executed.values()) == {1}
    engine = project.engine()
    try:
        starts = Counter(e["kind"] for run_id in ids for e in engine.events(run_id))
        workers_seen = {a["worker_id"] for run_id in ids for a in engine.attempts(run_id)}
    finally:
        engine.store.close()
    # a run claimed ahead and handed back unstarted (a "release") is claimed once more
    assert starts["start_attempt"] - starts["release"] == N_RUNS
    # the runs wait at a barrier until each worker started one (acceptance_tasks.once)
    assert len(workers_seen) == 2, "both workers should have taken part"


def test_sigterm_drains_a_running_attempt(project: Project,
                                          workers: Callable[..., Worker]) -> None:
    worker = workers("w1", "--concurrency", "2")
    run_id = project.outlast("trigger", "acc-drain", "1.5").stdout.split()[0]
    eventually(lambda: project.lines("drain-start"), 30, "the attempt to start")
    assert worker.terminate() == 0, worker.output()
    assert project.lines("drain-end") == [""]
    run = final(project, run_id, 5)
    assert (run["status"], run["attempts"], run["output"]) == ("COMPLETED", 1, "drained")


RESTART_ALLOWED = bool(os.environ.get("CI") or os.environ.get("OUTLAST_TEST_RESTART_POSTGRES"))


def restart_postgres() -> None:
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                   check=True, timeout=120)


@pytest.mark.skipif(not RESTART_ALLOWED, reason="restarts the PostgreSQL server: runs under "
                    "CI or with OUTLAST_TEST_RESTART_POSTGRES=1")
@pytest.mark.exclusive  # every other test's connections would die with the server
def test_postgres_restart_during_a_wait(project: Project,
                                        workers: Callable[..., Worker]) -> None:
    if not project.database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL test")
    worker = workers("w1", "--concurrency", "2")
    run_id = project.outlast("trigger", "acc-token").stdout.split()[0]
    [token] = eventually(lambda: project.lines("token"), 30, "the token")
    eventually(lambda: status_of(project, run_id) == "WAITING", 30, "the run to wait")
    restart_postgres()
    done = eventually(lambda: _complete(project, token), 60, "completing the token")
    assert "COMPLETED" in done
    run = final(project, run_id, 60)
    assert (run["status"], run["output"]) == ("COMPLETED", {"after": "restart"})
    assert worker.process.poll() is None, "the worker died with the database"
    after = project.outlast("trigger", "acc-once", "7").stdout.split()[0]
    assert final(project, after, 60)["output"] == 7


def _complete(project: Project, token: str) -> str | None:
    done = subprocess.run([*OUTLAST, "tokens", "complete", token, '{"after": "restart"}'],
                          cwd=project.root, env=project.env(), capture_output=True, text=True,
                          timeout=60)
    return done.stdout if done.returncode == 0 else None
