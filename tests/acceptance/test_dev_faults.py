"""``outlast dev`` when things go wrong, as a user meets it: the real command in a
subprocess on a fresh project, with no ``OUTLAST_*`` variables set.

A broken task file, a trigger typed right after the start, a deleted ``.outlast/``, a
second ``outlast dev`` and a second Ctrl-C each end in a state the user can act on.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from outlast import Client
from outlast.engine import Engine
from outlast.sdk.client import read_env_file
from outlast.store import open_store
from tests.eventually import eventually

pytestmark = pytest.mark.acceptance

OUTLAST = [sys.executable, "-m", "outlast.cli.main"]

ECHO = '''
from outlast import task

@task(id="echo")
def echo(payload):
    return payload
'''

BROKEN = '''
from outlast import task

@task(id="broken-task")
def broken(payload:
    return 1
'''

LATER = '''
from outlast import Retry, task

@task(id="later", retry=Retry(max_attempts=1))
def later(payload):
    return "later"
'''

SLOW_IMPORT = '''
import time
from outlast import task

time.sleep(5)  # a heavy import: the server answers long before the worker has the task

@task(id="late")
def late(payload):
    return "here"
'''

SLEEPER = '''
import os, time
from pathlib import Path
from outlast import task

@task(id="sleeper")
def sleeper(payload):
    Path(os.environ["SLEEPER_MARK"]).write_text("started")
    time.sleep(120)
    return "woke"
'''


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dev:
    """``outlast dev`` in its own process group (Ctrl-C in a terminal signals the group)."""

    def __init__(self, root: Path, *args: str, name: str = "dev") -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root.parent / f"{name}.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [*OUTLAST, "dev", "--port", str(self.port), *args], cwd=root,
                env=clean_env(SLEEPER_MARK=str(root.parent / "sleeper-started")),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text()

    def status(self, path: str) -> int | None:
        try:
            return httpx.get(self.url + path, timeout=2).status_code
        except httpx.TransportError:
            return None

    def wait_ready(self, task_id: str) -> None:
        """Until ``task_id`` is registered (asked through the API, as any client would)."""
        eventually(lambda: self.process.poll() is not None or self._has(task_id), 60,
                   f"outlast dev to register {task_id}")
        assert self.process.poll() is None, self.output()

    def _has(self, task_id: str) -> bool:
        try:
            with self.client() as client:
                return task_id in {t["id"] for t in client.tasks.list()}
        except (OSError, KeyError, httpx.HTTPError):
            return False

    def client(self) -> Client:
        env = read_env_file(self.root / ".outlast" / "dev.env")
        return Client(env["OUTLAST_API_URL"], env["OUTLAST_API_KEY"])

    def interrupt(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Dev]]:
    """``start({"tasks/a.py": "..."}, "--no-reload")`` → a started ``outlast dev``."""
    started: list[Dev] = []

    def run(files: dict[str, str] | None = None, *args: str, name: str = "dev") -> Dev:
        root = tmp_path / "app"
        if files is not None:
            (root / "tasks").mkdir(parents=True)
            (root / "outlast.toml").write_text('project = "app"\n')
            for path, text in files.items():
                (root / path).write_text(text)
        dev = Dev(root, *args, name=name)
        started.append(dev)
        return dev

    yield run
    for dev in started:
        dev.stop()


def outlast(root: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OUTLAST, *args], cwd=root, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def test_a_broken_task_file_stops_only_its_own_tasks(start: Callable[..., Dev]) -> None:
    dev = start({"tasks/good.py": ECHO, "tasks/broken.py": BROKEN, "tasks/later.py": LATER})
    dev.wait_ready("echo")
    done = outlast(dev.root, "trigger", "echo", '{"a": 1}', "--wait", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.split("\n", 1)[1]) == {"a": 1}

    never = outlast(dev.root, "trigger", "broken-task")
    assert never.returncode == 1
    assert "no worker has task 'broken-task': tasks/broken.py failed to import: " \
           "SyntaxError" in never.stderr
    assert "tasks/broken.py failed to import" in dev.output()
    workers = httpx.get(dev.url + "/workers", timeout=10).text
    assert "1 file failed to import" in workers and "tasks/broken.py" in workers

    # a file that imported breaks while dev runs: its runs wait, saying why none can run
    (dev.root / "tasks" / "later.py").write_text(LATER.replace("def later(payload)",
                                                               "def later(payload"))
    eventually(lambda: "2 files failed to import" in httpx.get(dev.url + "/workers",
                                                               timeout=10).text,
               60, "the reload to report tasks/later.py")
    waiting = outlast(dev.root, "trigger", "later")
    assert waiting.returncode == 0, waiting.stdout + waiting.stderr
    run_id = waiting.stdout.split()[0]
    shown = outlast(dev.root, "runs", "show", run_id).stdout
    assert "QUEUED" in shown
    assert "waiting for a worker with task 'later' (tasks/later.py failed to import: " \
           "SyntaxError" in shown
    page = httpx.get(f"{dev.url}/runs/{run_id}", timeout=10).text
    assert "a worker with task &#39;later&#39; (tasks/later.py failed to import" in page

    state = dev.root / ".outlast"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for name in ("dev.db", "dev.env"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name


def test_a_trigger_right_after_the_start_waits_for_the_tasks(
        start: Callable[..., Dev]) -> None:
    dev = start({"tasks/slow.py": SLOW_IMPORT})
    eventually(lambda: dev.status("/healthz") == 200, 60, "/healthz")
    banner_before_ready = "Outlast dev server" in dev.output() and dev.status("/readyz") != 200
    done = outlast(dev.root, "trigger", "late", "--wait", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[1] == '"here"'
    assert not banner_before_ready
    assert "Outlast dev server" in dev.output()  # printed once the tasks are there
    assert dev.status("/readyz") == 200

    with dev.client() as client:  # callbacks go to the port dev listens on
        token = client.tokens.create()
    assert token["url"].startswith(f"{dev.url}/api/v1/waitpoints/tokens/")


def test_deleting_the_state_directory_stops_dev_loudly(start: Callable[..., Dev]) -> None:
    dev = start({"tasks/good.py": ECHO}, "--no-reload")
    dev.wait_ready("echo")
    for path in sorted((dev.root / ".outlast").iterdir()):
        path.unlink()
    (dev.root / ".outlast").rmdir()
    assert dev.process.wait(60) == 1
    assert "was deleted while `outlast dev` ran" in dev.output()


def test_a_second_dev_server_for_the_project_is_refused(start: Callable[..., Dev]) -> None:
    first = start({"tasks/good.py": ECHO}, "--no-reload")
    first.wait_ready("echo")
    env_file = (first.root / ".outlast" / "dev.env").read_text()
    second = start(None, "--no-reload", name="second")
    assert second.process.wait(60) == 1
    assert f"`outlast dev` already runs for this project (at {first.url}, pid " \
        in second.output()
    assert (first.root / ".outlast" / "dev.env").read_text() == env_file
    done = outlast(first.root, "trigger", "echo", "1", "--wait", "--timeout", "60")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_second_ctrl_c_hands_the_runs_back_at_once(start: Callable[..., Dev],
                                                     tmp_path: Path) -> None:
    dev = start({"tasks/sleeper.py": SLEEPER}, "--no-reload", "--grace", "120")
    dev.wait_ready("sleeper")
    run_id = outlast(dev.root, "trigger", "sleeper").stdout.strip()
    eventually(lambda: (tmp_path / "sleeper-started").exists(), 60, "the run to start")
    dev.interrupt()
    eventually(lambda: "again to stop now" in dev.output(), 60, "the first stop")
    dev.interrupt()
    assert dev.process.wait(30) == 130  # not the 120 s grace
    engine = Engine(open_store(f"sqlite:///{dev.root / '.outlast' / 'dev.db'}"))
    try:
        run = engine.retrieve("dev", run_id)
    finally:
        engine.store.close()
    assert (run["status"], run["attempts"]) == ("QUEUED", 0)  # handed back, not crashed
