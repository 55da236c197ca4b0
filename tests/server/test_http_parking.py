"""Resuming parked runs and moving runs to another version over HTTP, and through the
client (sync and async) that calls it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.testclient import TestClient

from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine, Outcome
from outlast.engine import versions as registry
from outlast.errors import ConflictError, NotFoundError, ValidationError
from outlast.sdk.client import AsyncClient, Client
from outlast.sdk.transports import AsyncLocalTransport, LocalTransport

API = "/api/v1"
MISMATCH = {"type": "NonDeterminismError", "message": "replay mismatch", "seq": 2,
            "recorded": {"kind": "step", "name": "charge"},
            "called": {"kind": "step", "name": "charge-card"}}


@pytest.fixture(autouse=True)
def versions(engine: Engine) -> None:
    """The versions runs are moved to here, each registered with task ``hello``."""
    with engine.store.transaction() as tx:
        for version in ("20261204.1", "20261204.2", "v1", "v9", "v10", "v11"):
            registry.register(tx, "dev", version, [TaskDefinition("hello", "hello")],
                              source="deploy", now=engine.clock.now(), promote=False)


def trigger(client: TestClient, task: str = "hello") -> str:
    r = client.post(f"{API}/tasks/{task}/trigger", json={"payload": None})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def parked_run(client: TestClient, engine: Engine) -> str:
    """A run whose attempt met a replay mismatch, as a worker records it."""
    run_id = trigger(client)
    (row,) = engine.claim("dev", "worker-1", ["hello"], 1)
    assert row["id"] == run_id
    decided = engine.record([Outcome(run_id, row["lease_id"], row["attempt_count"], "parked",
                                     error=MISMATCH)])
    assert decided[0] is not None and decided[0].transition == "park"
    return run_id


def error_of(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_a_parked_run_shows_why_and_resumes(client: TestClient, engine: Engine) -> None:
    run_id = parked_run(client, engine)
    run = client.get(f"{API}/runs/{run_id}").json()
    # its attempt counts (resuming goes on with it), but spends no retry
    assert (run["status"], run["attempts"], run["version"]) == ("PARKED", 1, None)
    assert run["parked"]["called"] == {"kind": "step", "name": "charge-card"}
    assert run["parked"]["seq"] == 2 and run_id in run["parked"]["message"]
    assert client.get(f"{API}/runs", params={"status": "parked"}).json()["data"][0]["id"] \
        == run_id
    r = client.post(f"{API}/runs/{run_id}/resume", json={})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["parked"]) == ("QUEUED", None)


def test_resume_with_a_version_and_move(client: TestClient, engine: Engine) -> None:
    run_id = parked_run(client, engine)
    r = client.post(f"{API}/runs/{run_id}/resume", json={"version": "20261204.1"})
    assert (r.status_code, r.json()["version"], r.json()["status"]) == (200, "20261204.1",
                                                                        "QUEUED")
    r = client.post(f"{API}/runs/{run_id}/move", json={"version": "20261204.2"})
    assert (r.status_code, r.json()["version"], r.json()["status"]) == (200, "20261204.2",
                                                                        "QUEUED")
    kinds = [e["kind"] for e in client.get(f"{API}/runs/{run_id}/events").json()["data"]]
    assert kinds[-3:] == ["park", "resume_parked", "move_version"]


def test_a_version_nobody_registered_is_400(client: TestClient, engine: Engine) -> None:
    run_id = parked_run(client, engine)
    for action in ("resume", "move"):
        r = client.post(f"{API}/runs/{run_id}/{action}", json={"version": "never-deployed"})
        assert error_of(r) == (400, "unknown_version")
    assert client.get(f"{API}/runs/{run_id}").json()["status"] == "PARKED"


def test_unknown_run_is_404(client: TestClient) -> None:
    assert error_of(client.post(f"{API}/runs/run_nope/resume", json={})) == (
        404, "run_not_found")
    assert error_of(client.post(f"{API}/runs/run_nope/move", json={"version": "v1"})) == (
        404, "run_not_found")


def test_resume_of_a_run_that_is_not_parked_is_409(client: TestClient) -> None:
    run_id = trigger(client)
    r = client.post(f"{API}/runs/{run_id}/resume", json={})
    assert error_of(r) == (409, "invalid_transition")
    assert "QUEUED, not PARKED" in r.json()["error"]["message"]


def test_move_of_an_executing_or_final_run_is_409(client: TestClient, engine: Engine) -> None:
    run_id = trigger(client)
    engine.claim("dev", "worker-1", ["hello"], 1)
    r = client.post(f"{API}/runs/{run_id}/move", json={"version": "v1"})
    assert error_of(r) == (409, "invalid_transition") and "EXECUTING" in r.text
    client.post(f"{API}/runs/{run_id}/cancel")
    r = client.post(f"{API}/runs/{run_id}/move", json={"version": "v1"})
    assert error_of(r) == (409, "invalid_transition") and "CANCELED" in r.text


@pytest.mark.parametrize("body", [
    {}, {"version": ""}, {"version": None}, {"version": 7}, {"version": "no spaces"},
    {"version": "x" * 101}, {"version": "v1", "extra": 1}, [],
])
def test_move_with_a_bad_version_is_400(client: TestClient, body: Any) -> None:
    run_id = trigger(client)
    assert error_of(client.post(f"{API}/runs/{run_id}/move", json=body)) == (
        400, "invalid_request")
    assert client.get(f"{API}/runs/{run_id}").json()["version"] is None


@pytest.mark.parametrize("body", [{"version": ""}, {"version": None}, {"version": "a/b"},
                                  {"verison": "v1"}])
def test_resume_with_a_bad_version_is_400(client: TestClient, engine: Engine,
                                          body: Any) -> None:
    run_id = parked_run(client, engine)
    assert error_of(client.post(f"{API}/runs/{run_id}/resume", json=body)) == (
        400, "invalid_request")
    assert client.get(f"{API}/runs/{run_id}").json()["status"] == "PARKED"


def test_cancel_a_parked_run(client: TestClient, engine: Engine) -> None:
    run_id = parked_run(client, engine)
    r = client.post(f"{API}/runs/{run_id}/cancel")
    assert (r.status_code, r.json()["status"], r.json()["parked"]) == (200, "CANCELED", None)
    kinds = [e["kind"] for e in client.get(f"{API}/runs/{run_id}/events").json()["data"]]
    assert kinds[-2:] == ["park", "cancel"]


def test_the_clients_resume_and_move(client: TestClient, engine: Engine) -> None:
    run_id = parked_run(client, engine)
    sdk = Client(transport=LocalTransport(engine, "dev"))
    resumed = sdk.runs.resume(run_id)
    assert (resumed.status, resumed.parked, resumed.version) == ("QUEUED", None, None)
    assert sdk.runs.move(run_id, "v9").version == "v9"
    with pytest.raises(ConflictError):
        sdk.runs.resume(run_id)
    with pytest.raises(ValidationError):
        sdk.runs.move(run_id, "")
    with pytest.raises(NotFoundError):
        sdk.runs.move("run_nope", "v1")
    assert sdk.runs.cancel(run_id).status == "CANCELED"  # out of the way of the next claims
    first, second = parked_run(client, engine), parked_run(client, engine)

    async def go() -> list[tuple[str, str | None]]:
        async_sdk = AsyncClient(transport=AsyncLocalTransport(LocalTransport(engine, "dev")))
        moved = await async_sdk.runs.move(first, "v10")
        resumed = await async_sdk.runs.resume(second, "v11")
        with pytest.raises(ConflictError):
            await async_sdk.runs.resume(first)
        return [(moved.status, moved.version), (resumed.status, resumed.version)]

    assert asyncio.run(go()) == [("QUEUED", "v10"), ("QUEUED", "v11")]
