"""Waitpoint tokens over HTTP: create, list, complete with a key or through the callback URL."""

from __future__ import annotations

from urllib.parse import urlparse

from starlette.testclient import TestClient

API = "/api/v1"


def test_create_list_retrieve_complete(client: TestClient) -> None:
    created = client.post(f"{API}/waitpoints/tokens",
                          json={"timeout": "1h", "tags": ["approval"], "idempotency_key": "k"})
    assert created.status_code == 201
    token = created.json()
    again = client.post(f"{API}/waitpoints/tokens", json={"idempotency_key": "k"})
    assert again.json()["id"] == token["id"]  # same key, same token

    listed = client.get(f"{API}/waitpoints/tokens", params={"tag": "approval"}).json()
    assert [t["id"] for t in listed["data"]] == [token["id"]]
    assert client.get(f"{API}/waitpoints/tokens/{token['id']}").json()["status"] == "PENDING"

    done = client.post(f"{API}/waitpoints/tokens/{token['id']}/complete",
                       json={"output": {"approved": True}})
    assert done.status_code == 200 and done.json()["output"] == {"approved": True}
    twice = client.post(f"{API}/waitpoints/tokens/{token['id']}/complete", json={})
    assert twice.status_code == 409
    assert twice.json()["error"]["code"] == "conflict"


def test_callback_url_needs_no_key_but_the_right_secret(client: TestClient) -> None:
    token = client.post(f"{API}/waitpoints/tokens", json={}).json()
    path = urlparse(token["url"]).path
    anonymous = TestClient(client.app)
    wrong = anonymous.post(path.rsplit("/", 1)[0] + "/not-the-secret", json={"a": 1})
    assert wrong.status_code == 404
    right = anonymous.post(path, json={"approved": False, "note": "looks wrong"})
    assert right.status_code == 200 and right.json()["status"] == "COMPLETED"
    stored = client.get(f"{API}/waitpoints/tokens/{token['id']}").json()
    assert stored["output"] == {"approved": False, "note": "looks wrong"}
    assert anonymous.get(f"{API}/waitpoints/tokens").status_code == 401


def test_bad_token_requests(client: TestClient) -> None:
    assert client.post(f"{API}/waitpoints/tokens", json={"timeout": "soon"}).status_code == 400
    assert client.post(f"{API}/waitpoints/tokens", json={"color": "red"}).status_code == 400
    assert client.get(f"{API}/waitpoints/tokens/token_nope").status_code == 404
    bad_status = client.get(f"{API}/waitpoints/tokens", params={"status": "DONE"})
    assert bad_status.status_code == 400
