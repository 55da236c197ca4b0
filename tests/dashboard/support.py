"""A real dashboard for browser tests: uvicorn on loopback plus a worker, both in threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from outlast.engine import Engine
from outlast.server.app import create_app
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually

PROJECT = Path(__file__).parent / "project"
DEV_KEY = "ol_dev_dashboard-test-0123456789"
#: the project the dashboard names, as ``outlast dev`` and ``outlast server`` pass it
PROJECT_NAME = "acme"
TASKS = ("hello-world", "send-welcome-email", "charge-card", "resize-image", "approve-refund",
         "print-label", "order-workflow")


@contextmanager
def running_worker(engine: Engine, concurrency: int = 4) -> Iterator[Supervisor]:
    sup = Supervisor(engine, environment="dev", task_dirs=["tasks"], root=PROJECT,
                     concurrency=concurrency, grace=5.0)
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: {t["id"] for t in engine.list_tasks("dev")} >= set(TASKS), 30,
                   "the worker to register its tasks")
        yield sup
    finally:
        sup.request_stop()
        thread.join(30)


@contextmanager
def serve(app: object) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its URL."""
    # like ``outlast server``: open event streams (a live page) are cut, not waited for
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",  # type: ignore[arg-type]
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()

    def started() -> bool:
        assert thread.is_alive(), "uvicorn did not start"
        return bool(server.started)

    eventually(started, 10, "uvicorn to start")
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def live_dashboard(engine: Engine, *, dev: bool = True) -> Iterator[str]:
    """The base URL of a real server (with its scheduler) over ``engine``."""
    app = create_app(engine, dev_api_key=DEV_KEY if dev else None, scheduler=True,
                     project=PROJECT_NAME)
    with serve(app) as url:
        yield url


def screenshot(page: Any, path: Path) -> None:
    """``page.screenshot``, once more after Chromium's transient "Unable to capture
    screenshot" (a compositor hiccup on a loaded machine, not a page fault)."""
    try:
        page.screenshot(path=str(path), full_page=False)
    except Exception as exc:  # playwright's Error; its module is the browser tests' only
        if "Unable to capture screenshot" not in str(exc):
            raise
        page.wait_for_timeout(500)
        page.screenshot(path=str(path), full_page=False)


def accept_confirmations(page: Any) -> None:
    """Answer "OK" to every ``data-confirm`` question the page asks (Playwright dismisses
    dialogs nobody handles, which would cancel the action under test)."""
    page.on("dialog", lambda dialog: dialog.accept())
