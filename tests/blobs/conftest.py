"""Fixtures of the blob tests: a live engine over the test's store, its worker on this
folder's task project, and an S3 emulator (moto) on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

import tests.worker.support as worker_support
from outlast.engine import Engine
from outlast.store import Store
from outlast.worker.supervisor import Supervisor

PROJECT = Path(__file__).parent / "project"
MB = 1024 * 1024


@pytest.fixture
def live_engine(store: Store) -> Engine:
    """Real time: the worker's runs really start and finish."""
    return Engine(store, lease_seconds=10)


def running_worker(engine: Engine) -> AbstractContextManager[Supervisor]:
    return worker_support.running_worker(engine, 2, root=PROJECT, probe="blob-measure")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """``moto_server`` (the S3 emulator of the ``moto[server]`` package) on a free port."""
    port = _free_port()
    server = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(server), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3_url(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket in the emulator, as ``OUTLAST_BLOB_URL`` names it."""
    import boto3  # type: ignore[import-untyped]

    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    bucket = f"outlast-{time.monotonic_ns()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/blobs?endpoint_url={s3_endpoint}"
