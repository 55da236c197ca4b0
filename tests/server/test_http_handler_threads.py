"""How an API request reaches its handler: key first, body second, threads bounded.

A small body is read before the key is checked so that both share one thread hop; the
answers must be the ones a key-first order gives: a stranger gets 401 whatever the body.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import pytest
from starlette.testclient import TestClient

from outlast.core.settings import Settings
from outlast.engine import Engine
from outlast.server.app import SMALL_BODY_BYTES, HandlerThreads, body_limit

#: a small payload limit, so a body over it is quick to send
SMALL = Settings(max_payload_bytes=1024 * 1024)
MAX_BODY_BYTES = body_limit(SMALL)

API = "/api/v1"
TRIGGER = f"{API}/tasks/hello/trigger"


def test_a_stranger_gets_401_for_a_small_body_that_is_not_json(anonymous: TestClient) -> None:
    r = anonymous.post(TRIGGER, content=b"{not json", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_a_stranger_gets_401_for_a_body_over_the_small_size(anonymous: TestClient) -> None:
    body = b'{"payload": "' + b"x" * SMALL_BODY_BYTES + b'"}'
    r = anonymous.post(TRIGGER, content=body, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


@pytest.mark.parametrize("engine_settings", [SMALL])
def test_a_stranger_gets_401_before_a_body_over_the_limit(anonymous: TestClient) -> None:
    headers = {"Authorization": "Bearer nope", "Content-Length": str(MAX_BODY_BYTES + 1)}
    r = anonymous.post(TRIGGER, content=b"x" * (MAX_BODY_BYTES + 1), headers=headers)
    assert r.status_code == 401


@pytest.mark.parametrize("engine_settings", [SMALL])
def test_a_known_key_gets_the_body_errors(client: TestClient) -> None:
    assert client.post(TRIGGER, content=b"{not json").status_code == 400
    big = b"x" * (MAX_BODY_BYTES + 1)
    assert client.post(TRIGGER, content=big).status_code == 413


def test_large_and_small_bodies_trigger_alike(client: TestClient, engine: Engine) -> None:
    small = client.post(TRIGGER, json={"payload": "s"})
    large = client.post(TRIGGER, json={"payload": "l" * (SMALL_BODY_BYTES + 10)})
    assert (small.status_code, large.status_code) == (201, 201)
    assert engine.retrieve("dev", large.json()["id"])["payload"] == "l" * (SMALL_BODY_BYTES + 10)


def test_a_get_is_authenticated_too(anonymous: TestClient, as_env: Callable[[str], TestClient]
                                    ) -> None:
    assert anonymous.get(f"{API}/runs", headers={"Authorization": "Bearer no"}).status_code \
        == 401
    assert as_env("dev").get(f"{API}/runs").status_code == 200


def test_handler_threads_run_at_most_size_at_once() -> None:
    threads = HandlerThreads(3)
    running = [0]
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        with lock:
            running[0] += 1
            seen.append(running[0])
        time.sleep(0.01)
        with lock:
            running[0] -= 1

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(12):
                tg.start_soon(threads.run, work)

    anyio.run(main)
    anyio.run(main)  # a second event loop gets its own limiter
    assert len(seen) == 24 and max(seen) == 3
