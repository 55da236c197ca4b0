"""Fixtures for the HTTP server: an app over the shared ``engine`` and clients for it.

The ``engine`` (SQLite and PostgreSQL, fake clock) comes from ``tests/conftest.py``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its test client with httpx2; httpx works the same
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from tests.eventually import eventually

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine
from outlast.server.app import create_app

DEV_KEY = "ol_dev_test-key-0123456789"
TASKS = ("hello", "other")


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., object]:
    """``eventually(lambda: ...)``: poll until true, fail after 10 s."""
    return eventually


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def dev_key() -> str:
    """The key the test apps accept for ``dev`` as ``outlast dev``'s own key."""
    return DEV_KEY


@pytest.fixture
def tasks(engine: Engine) -> tuple[str, ...]:
    """Two tasks registered in ``dev``, each on its own queue."""
    engine.register_tasks("dev", [TaskDefinition(id=t, queue=t) for t in TASKS])
    return TASKS


@pytest.fixture
def app(engine: Engine, tasks: tuple[str, ...]) -> Starlette:
    return create_app(engine, dev_api_key=DEV_KEY, scheduler=False)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A client authenticated as ``dev`` with the dev key."""
    with TestClient(app, headers=auth(DEV_KEY)) as c:
        yield c


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def as_env(app: Starlette, engine: Engine) -> Iterator[Callable[[str], TestClient]]:
    """``as_env("staging")``: a client holding a freshly created key of that environment."""
    opened: list[TestClient] = []

    def make(env: str) -> TestClient:
        opened.append(TestClient(app, headers=auth(engine.create_api_key(env))))
        return opened[-1]

    yield make
    for c in opened:
        c.close()


class LiveServer:
    """A real uvicorn server on 127.0.0.1, on a port the OS picks, in a thread."""

    def __init__(self, app: Starlette) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            return bool(self.server.started)

        eventually(started, 10, "uvicorn to start")
        return self

    @property
    def url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(engine: Engine, tasks: tuple[str, ...]) -> Iterator[LiveServer]:
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=True)
    with LiveServer(app) as server:
        yield server
