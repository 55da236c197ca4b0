"""Deploying new code while runs are in flight, with real workers on both stores.

Release 1 (``projects/v1``) has task ``a``; release 2 (``projects/v2``) changes ``a`` and
adds ``b``. Each worker's version is the hash of its code. Nothing fails because the
right worker is missing: a run waits, without spending an attempt, for a worker that can
execute it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from outlast.engine import Engine
from outlast.store import Store
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.worker.support import running_worker, trigger, wait_final, wait_status

PROJECTS = Path(__file__).parent / "projects"


@contextmanager
def release(engine: Engine, name: str, probe: str = "a") -> Iterator[Supervisor]:
    """A worker of release ``name``, once its version is registered (it claims then)."""
    with running_worker(engine, root=PROJECTS / name, probe=probe) as sup:
        eventually(lambda: sup.version.code is not None, 30, f"{name}'s version")
        yield sup


def live_engine(store: Store) -> Engine:
    return Engine(store, lease_seconds=5)


def executed_by(engine: Engine, run_id: str) -> str:
    [attempt] = engine.attempts(run_id)
    return str(attempt["worker_id"])


def test_a_rolling_deploy_fails_nothing_and_new_tasks_run_on_new_code(store: Store) -> None:
    engine = live_engine(store)
    with release(engine, "v1") as old, release(engine, "v2", probe="b") as new:
        assert old.version.code is not None and new.version.code is not None
        assert old.version.code.version != new.version.code.version
        bs = [trigger(engine, "b", i) for i in range(20)]
        as_ = [trigger(engine, "a", i) for i in range(20)]
        runs = [wait_final(engine, run_id) for run_id in bs + as_]
        new_id, new_version = new.worker_id, new.version.code.version
    assert [r["status"] for r in runs] == ["COMPLETED"] * 40
    # b only exists in release 2; a's new runs belong to the current version, release 2
    assert {r["output"] for r in runs} == {"v2"}
    assert {executed_by(engine, run_id) for run_id in bs + as_} == {new_id}
    assert {engine.retrieve("dev", run_id)["version"] for run_id in bs} == {new_version}


def test_a_run_waiting_across_a_deploy_waits_for_its_own_version(store: Store) -> None:
    engine = live_engine(store)
    token = engine.durable.new_token("dev", None, [], None)["id"]
    with release(engine, "v1") as old:
        assert old.version.code is not None
        v1 = old.version.code.version
        waiting = trigger(engine, "waits", {"token": token})
        wait_status(engine, waiting, "WAITING")
        spent = engine.retrieve("dev", waiting)["attempts"]
    with release(engine, "v2", probe="b"):
        engine.durable.complete_token("dev", token, "go")
        wait_status(engine, waiting, "QUEUED")
        # a run queued after it is claimed: the new worker has looked at it and left it
        assert wait_final(engine, trigger(engine, "a"))["output"] == "v2"
        run = engine.retrieve("dev", waiting)
        assert (run["status"], run["attempts"], run["version"]) == ("QUEUED", spent, v1)
        assert run["waiting_for"] == f"a worker of version {v1}"
        with release(engine, "v1"):  # an old worker comes back: the run finishes on v1
            done = wait_final(engine, waiting)
    assert (done["status"], done["output"]) == ("COMPLETED", "v1")
