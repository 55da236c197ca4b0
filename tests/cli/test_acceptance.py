"""The quick start, for real: ``outlast init``, ``outlast dev``, ``outlast trigger --wait``.

Everything runs as subprocesses in a fresh directory with no ``OUTLAST_*`` variables,
so the trigger must find the dev server through ``.outlast/dev.env`` on its own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.eventually import eventually

pytestmark = pytest.mark.acceptance

OUTLAST = [sys.executable, "-m", "outlast.cli.main"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def outlast(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OUTLAST, *args], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    def healthy() -> bool:
        assert process.poll() is None, f"outlast dev exited early:\n{process.stdout.read()}"  # type: ignore[union-attr]
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    eventually(healthy, timeout, f"{url}/healthz to answer")


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[tuple[Path, str, subprocess.Popen[str]]]:
    """A project made by ``outlast init`` with ``outlast dev`` running in it."""
    project = tmp_path / "quickstart"
    project.mkdir()
    init = outlast(project, "init")
    assert init.returncode == 0, init.stderr
    port = free_port()
    process = subprocess.Popen([*OUTLAST, "dev", "--port", str(port)], cwd=project,
                               env=clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
        yield project, f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


def trigger_hello(project: Path) -> subprocess.CompletedProcess[str]:
    return outlast(project, "trigger", "hello-world", '{"name": "Ada"}', "--wait",
                   "--timeout", "30")


def test_quick_start(dev_server: tuple[Path, str, subprocess.Popen[str]]) -> None:
    project, url, process = dev_server
    env_file = (project / ".outlast" / "dev.env").read_text()
    assert f"OUTLAST_API_URL={url}\n" in env_file

    result = trigger_hello(project)
    assert result.returncode == 0, result.stdout + result.stderr
    run_id, *output = result.stdout.splitlines()
    assert run_id.startswith("run_")
    assert json.loads("\n".join(output)) == {"message": "Hello, Ada!"}

    shown = outlast(project, "runs", "show", run_id)
    assert "COMPLETED" in shown.stdout

    # Hot reload: the next run sees the edited task without a restart.
    example = project / "tasks" / "example.py"
    example.write_text(example.read_text().replace('f"Hello, {name}!"', 'f"Bonjour, {name}!"'))
    eventually(lambda: "Bonjour, Ada!" in trigger_hello(project).stdout, 30,
               "the edited task to be reloaded", interval=0.5)

    # A graceful stop: SIGTERM drains and exits 0, and the dev key is kept for next time.
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert (project / ".outlast" / "dev.env").read_text() == env_file
