"""``outlast dev`` as a user runs it: retries, aborts, cancel, delay, TTL and idempotency
through the HTTP client, all in subprocesses on a fresh project."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from outlast import Client
from outlast.sdk.client import read_env_file
from tests.eventually import eventually

pytestmark = pytest.mark.acceptance

TASKS = '''
import time
from outlast import AbortTaskRunError, Queue, Retry, task

@task(retry=Retry(max_attempts=3, min_delay=0.2, randomize=False))
def flaky(payload, ctx):
    if ctx.attempt.number < 3:
        raise RuntimeError(f"try {ctx.attempt.number}")
    return ctx.attempt.number

@task
def refuses(payload):
    raise AbortTaskRunError("not this one")

narrow = Queue("narrow", concurrency_limit=1)

@task(queue=narrow)
def slow(payload):
    time.sleep(payload.get("seconds", 30))
    return "done"

@task
def echo(payload):
    return payload
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Client]:
    project = tmp_path / "app"
    (project / "tasks").mkdir(parents=True)
    (project / "outlast.toml").write_text('project = "app"\n')
    (project / "tasks" / "jobs.py").write_text(TASKS)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    process = subprocess.Popen([sys.executable, "-m", "outlast.cli.main", "dev", "--port",
                                str(port), "--no-reload"], cwd=project, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", project)
        settings = read_env_file(project / ".outlast" / "dev.env")
        with Client(settings["OUTLAST_API_URL"], settings["OUTLAST_API_KEY"]) as client:
            yield client
    finally:
        process.terminate()
        process.wait(30)


def _wait_ready(url: str, project: Path) -> None:
    def ready() -> bool:
        try:
            ok = httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            if not (ok and (project / ".outlast" / "dev.env").exists()):
                return False
            env = read_env_file(project / ".outlast" / "dev.env")
            tasks = httpx.get(f"{url}/api/v1/tasks", timeout=1, headers={
                "Authorization": f"Bearer {env['OUTLAST_API_KEY']}"}).json()["data"]
            return {"flaky", "refuses", "slow", "echo"} <= {t["id"] for t in tasks}
        except (httpx.TransportError, KeyError):
            return False

    eventually(ready, 60, "outlast dev to be ready with the tasks registered", interval=0.2)


def test_dev_server_lifecycle(dev: Client) -> None:
    flaky = dev.runs.poll(dev.tasks.trigger("flaky").id, timeout=60)
    assert (flaky.status, flaky.output, flaky.attempts) == ("COMPLETED", 3, 3)

    refused = dev.runs.poll(dev.tasks.trigger("refuses").id, timeout=60)
    assert (refused.status, refused.attempts) == ("FAILED", 1)
    assert refused.error is not None and refused.error["message"] == "not this one"

    busy = dev.tasks.trigger("slow", {"seconds": 30}).id
    _wait_status(dev, busy, "EXECUTING")
    expiring = dev.tasks.trigger("slow", {"seconds": 0}, ttl="1s").id  # the queue is full
    assert dev.runs.poll(expiring, timeout=30).status == "EXPIRED"
    assert dev.runs.cancel(busy).status == "CANCELED"

    started = time.time()
    delayed = dev.tasks.trigger("echo", {"later": True}, delay="2s")
    assert dev.runs.retrieve(delayed.id).status == "DELAYED"
    done = dev.runs.poll(delayed.id, timeout=30)
    assert done.output == {"later": True} and time.time() - started >= 2

    first = dev.tasks.trigger("echo", 1, idempotency_key="once")
    again = dev.tasks.trigger("echo", 2, idempotency_key="once")
    assert again.id == first.id and again.created is False
    assert dev.runs.poll(first.id, timeout=30).output == 1


def _wait_status(client: Client, run_id: str, status: str) -> None:
    eventually(lambda: client.runs.retrieve(run_id).status == status, 30,
               f"run {run_id} to become {status}", interval=0.1)
