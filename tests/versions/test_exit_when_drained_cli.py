"""``outlast worker --version V --exit-when-drained`` as a person runs it, in a subprocess:
a worker of an old version exits by itself, status 0, once nothing needs it (both stores)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from outlast.engine import Engine
from tests.versions.support import add_version

TASKS = '''
from outlast import task


@task(id="hello")
def hello(payload):
    return "hi"
'''


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "tasks").mkdir(parents=True)
    (root / "outlast.toml").write_text('dirs = ["tasks"]\n')
    (root / "tasks" / "hello.py").write_text(TASKS)
    return root


def _worker(root: Path, store_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    return subprocess.run(
        [sys.executable, "-m", "outlast.cli.main", "worker", "--database-url", store_url,
         "--concurrency", "1", *args], cwd=root, env=env, capture_output=True, text=True,
        timeout=120)


def test_a_worker_of_a_version_nobody_needs_exits_by_itself(
        tmp_path: Path, store_url: str, engine: Engine) -> None:
    add_version(engine, "v2", ["hello"], source="deploy")  # deploys manage this environment
    done = _worker(_project(tmp_path), store_url, "--version", "v1", "--exit-when-drained")
    assert done.returncode == 0, done.stderr
    assert "version v1 is drained: no runs are pinned to it; stopping" in done.stderr
    versions = {v["version"]: v for v in engine.list_versions("dev")}
    assert (versions["v1"]["state"], versions["v2"]["state"]) == ("draining", "current")
    assert engine.list_workers("dev") == []
