"""Reading and acting on runs over HTTP."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from outlast.clock import FakeClock

API = "/api/v1"


def trigger(client: TestClient, task: str = "hello", payload: Any = None,
            **options: Any) -> str:
    r = client.post(f"{API}/tasks/{task}/trigger", json={"payload": payload, "options": options})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def ids(client: TestClient, **params: Any) -> list[str]:
    r = client.get(f"{API}/runs", params=params)
    assert r.status_code == 200, r.text
    return [run["id"] for run in r.json()["data"]]


def test_retrieve(client: TestClient) -> None:
    run_id = trigger(client, payload={"a": 1}, tags=["user:1"], metadata={"p": 0})
    run = client.get(f"{API}/runs/{run_id}").json()
    assert (run["id"], run["status"], run["task"]) == (run_id, "QUEUED", "hello")
    assert (run["payload"], run["tags"], run["metadata"]) == ({"a": 1}, ["user:1"], {"p": 0})
    assert run["is_final"] is False


def test_retrieve_unknown_is_404(client: TestClient) -> None:
    r = client.get(f"{API}/runs/run_doesnotexist")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "run_not_found"


def test_list_filters(client: TestClient, clock: FakeClock) -> None:
    a = trigger(client, "hello", tags=["user:1"])
    clock.advance(1)
    b = trigger(client, "other", tags=["user:2"])
    clock.advance(1)
    c = trigger(client, "hello", delay="1h")
    assert ids(client) == [c, b, a]
    assert ids(client, task="hello") == [c, a]
    assert ids(client, tag="user:2") == [b]
    assert ids(client, status="DELAYED") == [c]
    assert ids(client, status="queued,delayed") == [c, b, a]
    assert ids(client, created_after=clock.now() - 1.5) == [c, b]


def test_list_rejects_bad_filters(client: TestClient) -> None:
    assert client.get(f"{API}/runs", params={"status": "SLEEPING"}).status_code == 400
    assert client.get(f"{API}/runs", params={"limit": "lots"}).status_code == 400
    assert client.get(f"{API}/runs", params={"limit": 0}).status_code == 400
    assert client.get(f"{API}/runs", params={"created_after": "yesterday"}).status_code == 400


def test_list_pages_with_a_cursor(client: TestClient, clock: FakeClock) -> None:
    created = []
    for i in range(5):
        created.append(trigger(client, payload=i))
        clock.advance(1)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get(f"{API}/runs", params=params).json()
        seen += [run["id"] for run in body["data"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == created[::-1]


def test_cancel(client: TestClient) -> None:
    run_id = trigger(client)
    r = client.post(f"{API}/runs/{run_id}/cancel")
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["is_final"]) == ("CANCELED", True)
    again = client.post(f"{API}/runs/{run_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "invalid_transition"


def test_cancel_unknown_is_404(client: TestClient) -> None:
    assert client.post(f"{API}/runs/run_nope/cancel").status_code == 404


def test_replay_makes_a_new_run(client: TestClient) -> None:
    run_id = trigger(client, payload={"n": 1}, tags=["t"])
    r = client.post(f"{API}/runs/{run_id}/replay")
    assert r.status_code == 201
    new = client.get(f"{API}/runs/{r.json()['id']}").json()
    assert new["id"] != run_id
    assert (new["payload"], new["tags"], new["replayed_from"]) == ({"n": 1}, ["t"], run_id)


def test_replay_with_an_edited_payload(client: TestClient) -> None:
    run_id = trigger(client, payload={"n": 1})
    r = client.post(f"{API}/runs/{run_id}/replay", json={"payload": {"n": 2}})
    assert client.get(f"{API}/runs/{r.json()['id']}").json()["payload"] == {"n": 2}


def test_reschedule_a_delayed_run(client: TestClient, clock: FakeClock) -> None:
    run_id = trigger(client, delay="1h")
    r = client.post(f"{API}/runs/{run_id}/reschedule", json={"delay": "5m"})
    assert r.status_code == 200
    assert r.json()["status"] == "DELAYED"
    assert r.json()["available_at"] == clock.now() + 300


def test_reschedule_needs_a_valid_delay(client: TestClient) -> None:
    run_id = trigger(client, delay="1h")
    missing = client.post(f"{API}/runs/{run_id}/reschedule", json={})
    assert missing.status_code == 400
    bad = client.post(f"{API}/runs/{run_id}/reschedule", json={"delay": "soon"})
    assert bad.status_code == 400
    assert "delay" in bad.json()["error"]["message"]


def test_events_logs_and_attempts(client: TestClient) -> None:
    run_id = trigger(client)
    events = client.get(f"{API}/runs/{run_id}/events")
    assert events.status_code == 200
    assert len(events.json()["data"]) >= 1
    assert client.get(f"{API}/runs/{run_id}/logs").json() == {"data": []}
    assert client.get(f"{API}/runs/{run_id}/attempts").json() == {"data": []}
