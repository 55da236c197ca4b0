"""Acceptance fixtures: a project on disk and real ``outlast`` processes working on it.

``project`` is a directory with ``outlast.toml`` and ``tasks/`` (copied from
``project/tasks``) on a fresh database of the parametrized store (SQLite file or a new
PostgreSQL database, migrated with ``outlast migrate``). ``Worker`` starts
``outlast worker`` in its own process group, so a ``kill -9`` takes its children along,
the way a machine dies. The lease is 2 s so recovery after a kill is quick.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.store import open_store
from tests.conftest import DIALECTS, create_pg_database, drop_pg_database, require_postgres
from tests.eventually import eventually

TASKS = Path(__file__).parent / "project" / "tasks"
BIN = Path(sys.executable).parent
OUTLAST = [str(BIN / "outlast")] if (BIN / "outlast").exists() else [
    sys.executable, "-m", "outlast.cli.main"]
LEASE_SECONDS = "2"


@dataclass
class Project:
    root: Path
    out: Path
    database_url: str

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
        env.update(PYTHONUNBUFFERED="1", OUTLAST_DATABASE_URL=self.database_url,
                   OUTLAST_LEASE_SECONDS=LEASE_SECONDS, OUTLAST_TEST_OUT=str(self.out))
        env.update(extra)
        return env

    def outlast(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*OUTLAST, *args], cwd=self.root, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"outlast {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def lines(self, name: str) -> list[str]:
        path = self.out / name
        return path.read_text().splitlines() if path.exists() else []

    def engine(self) -> Engine:
        return Engine(open_store(self.database_url))


class Worker:
    """``outlast worker`` as a subprocess in its own session (process group)."""

    def __init__(self, project: Project, name: str, *args: str) -> None:
        self.log = project.root / f"{name}.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [*OUTLAST, "worker", *args], cwd=project.root, env=project.env(),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill9(self) -> None:
        """SIGKILL the worker and every child process it spawned."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to the worker process only (what a deploy sends); its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture(params=DIALECTS, ids=DIALECTS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    shutil.copytree(TASKS, root / "tasks")
    (root / "outlast.toml").write_text('project = "acceptance"\ndirs = ["tasks"]\n')
    out = tmp_path / "out"
    out.mkdir()
    if request.param == "sqlite":
        yield _migrated(Project(root, out, f"sqlite:///{tmp_path / 'outlast.db'}"))
        return
    require_postgres()
    name = f"outlast_acceptance_{os.getpid()}"
    proj = _migrated(Project(root, out, create_pg_database(name)))
    try:
        yield proj
    finally:
        drop_pg_database(name)


def _migrated(project: Project) -> Project:
    project.outlast("migrate")
    return project


@pytest.fixture
def workers(project: Project) -> Iterator[Callable[..., Worker]]:
    """``workers("w1", "--concurrency", "2")`` → a started Worker, killed after the test."""
    started: list[Worker] = []

    def start(name: str, *args: str) -> Worker:
        before = len(worker_rows(project))
        worker = Worker(project, name, *args)
        started.append(worker)
        eventually(lambda: worker.process.poll() is not None or (
            registered(project) and len(worker_rows(project)) > before), 30,
            "the worker to register")
        assert worker.process.poll() is None, worker.output()
        return worker

    yield start
    for worker in started:
        worker.stop()


def registered(project: Project) -> bool:
    engine = project.engine()
    try:
        engine.definition("dev", "acc-once")
        return True
    except Exception:
        return False
    finally:
        engine.store.close()


def worker_rows(project: Project) -> list[Any]:
    engine = project.engine()
    try:
        return engine.list_workers("dev")
    finally:
        engine.store.close()


