"""``outlast worker --metrics-port N``: a real worker process serves its own numbers."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from outlast.core.prometheus import CONTENT_TYPE
from outlast.engine import Engine
from outlast.store import Store
from tests.eventually import eventually
from tests.metrics.promtext import Series, parse, value
from tests.worker.support import PROJECT, registered, trigger, wait_final

OUTLAST = [sys.executable, "-m", "outlast.cli.main"]


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


@pytest.fixture
def worker_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """``outlast worker --metrics-port 0`` over the test project; its metrics URL, read
    from the line it prints (port 0: the system picks a free one)."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT / "tasks", root / "tasks")
    (root / "outlast.toml").write_text('project = "metrics"\ndirs = ["tasks"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(OUTLAST_DATABASE_URL=store_url, OUTLAST_TEST_OUT=str(tmp_path),
               PYTHONUNBUFFERED="1")
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*OUTLAST, "worker", "--concurrency", "2", "--metrics-port", "0"], cwd=root,
            env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        found = eventually(lambda: re.search(r"worker metrics on (http://\S+/metrics)",
                                             log_path.read_text()), 60, "the metrics URL")
        yield found.group(1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def scrape(url: str) -> Series:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    return parse(response.text)


def test_a_worker_serves_attempts_outcomes_durations_slots_claims_and_journal_writes(
        live_engine: Engine, worker_url: str) -> None:
    eventually(lambda: registered(live_engine, "two-steps"), 60, "task registration")
    ids = [trigger(live_engine, "hello-world", {"name": "a"}), trigger(live_engine, "flaky"),
           trigger(live_engine, "two-steps")]
    for run_id in ids:
        assert wait_final(live_engine, run_id)["status"] == "COMPLETED"
    # the page is read while the worker goes on: wait for its loop to note the last end
    series = eventually(lambda: _settled(scrape(worker_url)), 30, "the worker to be idle")

    started = "outlast_worker_attempts_started_total"
    finished = "outlast_worker_attempts_finished_total"
    assert value(series, started, task="hello-world") == 1
    assert value(series, started, task="flaky") == 3  # two failures, then it completes
    assert value(series, finished, task="flaky", outcome="failed") == 2
    assert value(series, finished, task="flaky", outcome="completed") == 1
    assert value(series, finished, task="two-steps", outcome="completed") == 1
    assert value(series, "outlast_worker_attempt_duration_seconds_count", task="flaky") == 3
    assert value(series, "outlast_worker_journal_writes_total", op="record") == 2  # 2 steps
    assert value(series, "outlast_worker_claim_seconds_count") >= 1
    assert value(series, "outlast_worker_queue_wait_seconds_count", queue="flaky") == 3
    assert value(series, "outlast_worker_slots", state="busy") == 0
    assert value(series, "outlast_worker_slots", state="free") == 2
    assert httpx.get(worker_url.replace("/metrics", "/other"), timeout=10).status_code == 404


def _settled(series: Series) -> Series | None:
    """The page once every attempt it started has ended and the slots are free."""
    started = sum(v for (name, _), v in series.items()
                  if name == "outlast_worker_attempts_started_total")
    ended = sum(v for (name, _), v in series.items()
                if name == "outlast_worker_attempts_finished_total")
    busy = series.get(("outlast_worker_slots", frozenset({("state", "busy")})))
    return series if started == ended == 5 and busy == 0 else None


def test_a_busy_metrics_port_stops_the_worker_before_it_starts(
        store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from click.testing import CliRunner

    from outlast.cli.main import cli

    root = tmp_path / "project"
    shutil.copytree(PROJECT / "tasks", root / "tasks")
    (root / "outlast.toml").write_text('project = "metrics"\ndirs = ["tasks"]\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.chdir(root)
        result = CliRunner().invoke(cli, ["worker", "--database-url", store_url,
                                          "--metrics-port", str(port)])
    assert result.exit_code != 0
    assert f"cannot serve worker metrics on 127.0.0.1:{port}" in result.output
