"""Triggering over HTTP: single runs, batches of one task, and ``/batch`` across tasks."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from outlast.core.settings import Settings

API = "/api/v1"

#: a payload limit these tests set (the default, 100 MB, is too large to send in a test)
SMALL_LIMIT = [Settings(max_payload_bytes=3 * 1024 * 1024)]


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    return dict(body["error"])


def run_count(client: TestClient) -> int:
    return len(client.get(f"{API}/runs", params={"limit": 1000}).json()["data"])


def test_trigger_creates_a_run(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", json={"payload": {"name": "Ada"}})
    assert r.status_code == 201
    body = r.json()
    assert body["id"].startswith("run_")
    assert (body["task"], body["created"], body["status"]) == ("hello", True, "QUEUED")
    run = client.get(f"{API}/runs/{body['id']}").json()
    assert run["payload"] == {"name": "Ada"}


def test_idempotent_repeat_answers_200_with_the_same_run(client: TestClient) -> None:
    body = {"payload": 1, "options": {"idempotency_key": "order-42"}}
    first = client.post(f"{API}/tasks/hello/trigger", json=body)
    again = client.post(f"{API}/tasks/hello/trigger", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["created"] is False
    assert run_count(client) == 1


def test_empty_body_triggers_with_a_null_payload(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger")
    assert r.status_code == 201
    assert client.get(f"{API}/runs/{r.json()['id']}").json()["payload"] is None


def test_unknown_task_is_404(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/nope/trigger", json={"payload": 1})
    assert r.status_code == 404
    assert error_of(r)["code"] == "task_not_found"
    assert "nope" in error_of(r)["message"]


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", content=b'{"payload": ',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "invalid_request"
    assert "not valid JSON" in error_of(r)["message"]


def test_nan_is_not_json(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", content=b'{"payload": NaN}')
    assert r.status_code == 400


def test_body_that_is_not_an_object_is_400(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", json=[1, 2])
    assert r.status_code == 400
    assert "JSON object" in error_of(r)["message"]


def test_bad_option_names_the_option(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger",
                    json={"payload": 1, "options": {"delay": "soon"}})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "invalid_request"
    assert "delay" in err["message"]
    assert run_count(client) == 0


def test_unknown_option_is_400(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", json={"options": {"dealy": "5m"}})
    assert r.status_code == 400
    assert "dealy" in error_of(r)["message"]


@pytest.mark.parametrize("engine_settings", SMALL_LIMIT)
def test_payload_over_the_configured_maximum_is_413(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", json={"payload": "x" * 3_500_000})
    assert r.status_code == 413
    assert error_of(r)["code"] == "payload_too_large"
    assert run_count(client) == 0


@pytest.mark.parametrize("engine_settings", SMALL_LIMIT)
def test_body_over_the_maximum_and_its_envelope_is_413(client: TestClient) -> None:
    r = client.post(f"{API}/tasks/hello/trigger", json={"payload": "x" * 4_300_000})
    assert r.status_code == 413
    assert error_of(r)["code"] == "payload_too_large"
    assert "request body" in error_of(r)["message"]


def test_batch_of_one_task(client: TestClient) -> None:
    items = [{"payload": i, "options": {"tags": [f"n:{i}"]}} for i in range(3)]
    r = client.post(f"{API}/tasks/hello/batch", json={"items": items})
    assert r.status_code == 201
    body = r.json()
    assert body["batch_id"].startswith("batch_")
    assert [run["task"] for run in body["runs"]] == ["hello"] * 3
    payloads = [client.get(f"{API}/runs/{run['id']}").json()["payload"] for run in body["runs"]]
    assert payloads == [0, 1, 2]


def test_batch_items_keep_their_own_options_among_neighbours_that_share_them(
        client: TestClient) -> None:
    """Equal options of items in a row are parsed once; each item still gets its own."""
    cycle = [{"tags": ["a"]}, {"tags": ["a"]}, {"tags": ["b"], "priority": 3}, {}, None,
             {"tags": ["a"], "queue": "q2"}]
    items = [{"payload": i, "options": cycle[i % len(cycle)]} for i in range(60)]
    r = client.post(f"{API}/tasks/hello/batch", json={"items": items})
    assert r.status_code == 201
    runs = [client.get(f"{API}/runs/{run['id']}").json() for run in r.json()["runs"]]
    want = [(["a"], 0, "hello"), (["a"], 0, "hello"), (["b"], 3, "hello"), ([], 0, "hello"),
            ([], 0, "hello"), (["a"], 0, "q2")]
    assert [(run["payload"], run["tags"], run["priority"], run["queue"]) for run in runs] == [
        (i, *want[i % len(cycle)]) for i in range(60)]


def test_batch_items_with_options_equal_but_not_alike_are_each_checked(
        client: TestClient) -> None:
    """``1 == True`` in Python, not in JSON: the item after one with ``1`` is still read."""
    items = [{"payload": 0, "options": {"metadata": {"x": 1}}},
             {"payload": 1, "options": {"metadata": {"x": True}}},
             {"payload": 2, "options": {"metadata": {"x": 1.0}}}]
    r = client.post(f"{API}/tasks/hello/batch", json={"items": items})
    assert r.status_code == 201
    metadata = [client.get(f"{API}/runs/{run['id']}").json()["metadata"]["x"]
                for run in r.json()["runs"]]
    assert [(type(m), m) for m in metadata] == [(int, 1), (bool, True), (float, 1.0)]
    refused = client.post(f"{API}/tasks/hello/batch", json={"items": [
        {"payload": 0, "options": {"priority": 1}}, {"payload": 1, "options": {"priority": True}}]})
    assert refused.status_code == 400
    assert "priority" in error_of(refused)["message"]


def test_batch_of_1000_is_accepted_and_1001_is_400(client: TestClient) -> None:
    ok = client.post(f"{API}/tasks/hello/batch", json={"items": [{"payload": i}
                                                                  for i in range(1000)]})
    assert ok.status_code == 201
    assert len(ok.json()["runs"]) == 1000
    too_many = client.post(f"{API}/tasks/hello/batch",
                           json={"items": [{"payload": i} for i in range(1001)]})
    assert too_many.status_code == 400
    assert "1000" in error_of(too_many)["message"]
    assert run_count(client) == 1000


def test_one_bad_item_rejects_the_whole_batch(client: TestClient) -> None:
    items = [{"payload": 1}, {"payload": 2, "options": {"delay": "soon"}}, {"payload": 3}]
    r = client.post(f"{API}/tasks/hello/batch", json={"items": items})
    assert r.status_code == 400
    assert "delay" in error_of(r)["message"]
    assert run_count(client) == 0


def test_empty_batch_is_400(client: TestClient) -> None:
    assert client.post(f"{API}/tasks/hello/batch", json={"items": []}).status_code == 400


def test_batch_across_tasks(client: TestClient) -> None:
    items = [{"task": "hello", "payload": 1}, {"task": "other", "payload": 2}]
    r = client.post(f"{API}/batch", json={"items": items})
    assert r.status_code == 201
    assert [run["task"] for run in r.json()["runs"]] == ["hello", "other"]
    assert run_count(client) == 2


def test_batch_across_tasks_with_an_unknown_task_writes_nothing(client: TestClient) -> None:
    items = [{"task": "hello", "payload": 1}, {"task": "ghost", "payload": 2}]
    r = client.post(f"{API}/batch", json={"items": items})
    assert r.status_code == 404
    assert error_of(r)["code"] == "task_not_found"
    assert run_count(client) == 0


def test_batch_item_without_task_is_400(client: TestClient) -> None:
    r = client.post(f"{API}/batch", json={"items": [{"payload": 1}]})
    assert r.status_code == 400
    assert "task" in error_of(r)["message"]


def test_list_tasks(client: TestClient) -> None:
    r = client.get(f"{API}/tasks")
    assert r.status_code == 200
    assert sorted(t["id"] for t in r.json()["data"]) == ["hello", "other"]
