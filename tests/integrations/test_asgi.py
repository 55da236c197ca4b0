"""A FastAPI app (tests/integrations/asgi_project) with Outlast mounted at ``/outlast`` and
its worker in the app's own process, run by a real uvicorn on SQLite and PostgreSQL.

Triggered through the mounted API, a run completes on the in-app worker; when the app is
stopped (SIGTERM, as a deploy does) the worker drains: a run still executing goes back to
the queue, the worker leaves the workers list, and the app's shutdown completes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Mount

from outlast import Client
from outlast.engine import Engine
from outlast.errors import ConfigError
from outlast.integrations.asgi import outlast_app, outlast_lifespan
from outlast.store import open_store
from tests.eventually import eventually
from tests.worker.support import registered, wait_final, wait_status

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PROJECT = Path(__file__).resolve().parent / "asgi_project"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    store = open_store(store_url)
    yield Engine(store)
    store.close()


@pytest.fixture
def shop(store_url: str, engine: Engine) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``uvicorn shop_app:app`` on a free port; yields its URL and the process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTLAST_")}
    env.update(SHOP_DATABASE_URL=store_url, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "shop_app:app", "--host", "127.0.0.1",
         "--port", str(port)], cwd=PROJECT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, f"the app exited early:\n{process.stdout.read()}"  # type: ignore[union-attr]
        try:
            return httpx.get(f"{url}/outlast/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(up, 30, "the app to answer")
        eventually(lambda: registered(engine, "greet"), 30, "the in-app worker to register")
        yield url, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_a_run_completes_on_the_in_app_worker_and_the_app_stops_cleanly(
        shop: tuple[str, subprocess.Popen[str]], engine: Engine) -> None:
    url, process = shop
    assert httpx.get(f"{url}/hello").json() == {"hello": "shop"}  # the app's own route
    with Client(url=f"{url}/outlast", api_key=engine.create_api_key("dev")) as client:
        done = client.tasks.trigger("greet", {"name": "Ada"})
        assert wait_final(engine, done.id)["output"] == "Hello, Ada!"
        napping = client.tasks.trigger("nap", {})
    wait_status(engine, napping.id, "EXECUTING")
    assert len(engine.list_workers("dev")) == 1

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    # uvicorn raises the signal again once it has shut down: a clean end is that, or 0
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output, output
    assert "Traceback" not in output, output
    assert engine.retrieve("dev", napping.id)["status"] == "QUEUED"  # handed back
    assert engine.list_workers("dev") == []


def test_a_missing_task_directory_is_an_error_before_the_app_starts(
        store_url: str, tmp_path: Path) -> None:
    outlast = outlast_app(database_url=store_url, root=tmp_path)
    with pytest.raises(ConfigError, match="'tasks' not found"):
        outlast_lifespan(outlast)
    outlast_lifespan(outlast, worker=False)  # the API and dashboard alone need none


def test_the_lifespan_takes_only_an_outlast_app() -> None:
    with pytest.raises(ConfigError, match="outlast_app"):
        outlast_lifespan(Starlette())


def test_api_and_dashboard_without_a_worker(store_url: str, tmp_path: Path,
                                            engine: Engine) -> None:
    outlast = outlast_app(database_url=store_url, root=tmp_path)
    app = Starlette(routes=[Mount("/outlast", app=outlast)],
                    lifespan=outlast_lifespan(outlast, worker=False))
    with TestClient(app, follow_redirects=False) as http:
        assert http.get("/outlast/readyz").json() == {"status": "ready"}
        assert http.get("/outlast/").headers["location"] == "/outlast/login?next=%2F"
        runs = http.get("/outlast/api/v1/runs",
                        headers={"Authorization": f"Bearer {engine.create_api_key('dev')}"})
        assert runs.status_code == 200
    assert engine.list_workers("dev") == []
