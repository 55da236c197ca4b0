"""What every request passes first: its Host, its Origin, the pace of its body; and the
headers every answer carries (see ``outlast.server.guard``)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.dashboard.support import serve

from outlast.cli.serving import dev_hosts, server_hosts
from outlast.config import load_config
from outlast.engine import Engine
from outlast.server.app import create_app

API = "/api/v1"
DEV_KEY = "ol_dev_guard-test-0123456789"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def dev_app(engine: Engine, tasks: tuple[str, ...]) -> Starlette:
    """The app as ``outlast dev`` builds it: its key, loopback names only."""
    return create_app(engine, dev_api_key=DEV_KEY, scheduler=False,
                      allowed_hosts=dev_hosts("127.0.0.1"))


@pytest.fixture
def dev(dev_app: Starlette) -> Iterator[TestClient]:
    with TestClient(dev_app, base_url="http://127.0.0.1:8030", headers=auth(DEV_KEY)) as c:
        yield c


# -- Host: DNS rebinding ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1:8030", "localhost:8030", "LOCALHOST",
                                  "[::1]:9000", "127.0.0.1"])
def test_dev_answers_to_loopback_names(dev: TestClient, host: str) -> None:
    assert dev.get(f"{API}/runs", headers={"Host": host}).status_code == 200
    assert dev.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8030", "127.0.0.1.evil.example",
                                  "localhost.evil.example:8030", ""])
def test_dev_refuses_any_other_host_name(dev: TestClient, host: str) -> None:
    """A page of evil.example pointing its name at 127.0.0.1 reads nothing, runs nothing."""
    runs = dev.get(f"{API}/runs", headers={"Host": host})
    assert runs.status_code == 400 and runs.json()["error"]["code"] == "invalid_host"
    assert dev.get("/", headers={"Host": host}).status_code == 400
    trigger = dev.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                       headers={"Host": host})
    assert trigger.status_code == 400
    assert dev.get(f"{API}/runs").json()["data"] == []
    assert dev.get("/healthz", headers={"Host": host}).status_code == 200  # probes: any


def test_the_server_answers_to_its_public_host_and_the_names_it_is_given(
        engine: Engine, tasks: tuple[str, ...], tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={
        "OUTLAST_PUBLIC_URL": "https://outlast.acme.example/",
        "OUTLAST_ALLOWED_HOSTS": "internal-lb.acme, 10.0.0.7"})
    app = create_app(engine, scheduler=False, allowed_hosts=server_hosts(config))
    key = engine.create_api_key("dev")
    with TestClient(app, base_url="https://outlast.acme.example", headers=auth(key)) as http:
        for host in ("outlast.acme.example", "internal-lb.acme:8030", "10.0.0.7",
                     "127.0.0.1:8030"):
            assert http.get(f"{API}/runs", headers={"Host": host}).status_code == 200, host
        assert http.get(f"{API}/runs", headers={"Host": "evil.example"}).status_code == 400
        # a token's callback URL stays reachable through the public host, with no key
        token = engine.durable.new_token("dev", None, [], None)
        path = urlsplit(token["url"]).path
        done = TestClient(app, base_url="https://outlast.acme.example").post(path, json={})
        assert done.status_code == 200


def test_allowed_hosts_star_answers_any_host(engine: Engine, tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={"OUTLAST_ALLOWED_HOSTS": "*"})
    app = create_app(engine, scheduler=False, allowed_hosts=server_hosts(config))
    with TestClient(app) as http:
        assert http.get("/login", headers={"Host": "anything.example"}).status_code == 200


# -- Origin: cross-site requests ----------------------------------------------------------


def test_a_cross_site_post_is_refused(dev: TestClient) -> None:
    hostile = dev.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                       headers={"Origin": "http://evil.example"})
    assert hostile.status_code == 403
    csrf = dev.get("/").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = dev.post("/runs/bulk", data={"action": "cancel", "csrf": csrf},
                    headers={"Origin": "http://evil.example"})
    assert form.status_code == 403 and form.json()["error"]["code"] == "forbidden"
    assert dev.get(f"{API}/runs").json()["data"] == []
    # the same site (a dashboard form), and clients that send no Origin, are served
    same = dev.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                    headers={"Origin": "http://127.0.0.1:8030"})
    assert same.status_code == 201, same.text
    assert dev.post(f"{API}/tasks/hello/trigger", json={"payload": {}}).status_code == 201
    # reading is not refused for an Origin: the Host check keeps foreign pages out
    assert dev.get(f"{API}/runs", headers={"Origin": "http://evil.example"}).status_code == 200


def test_behind_a_proxy_that_sends_its_own_host_the_public_site_may_post(
        engine: Engine, tasks: tuple[str, ...], tmp_path: Path) -> None:
    """nginx sends the upstream's address as Host by default; the browser names the
    public site as Origin. That is the server's own site: its forms and fetches work."""
    config = load_config(tmp_path, environ={"OUTLAST_PUBLIC_URL": "https://outlast.acme.example"})
    app = create_app(engine, scheduler=False, allowed_hosts=server_hosts(config),
                     public_url=config.public_url)
    key = engine.create_api_key("dev")
    proxied = {"Host": "127.0.0.1:8030", **auth(key)}
    with TestClient(app, base_url="http://127.0.0.1:8030") as http:
        ours = http.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                         headers={**proxied, "Origin": "https://outlast.acme.example"})
        assert ours.status_code == 201, ours.text
        for hostile in ("https://evil.example", "https://outlast.acme.example.evil", "null"):
            refused = http.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                                headers={**proxied, "Origin": hostile})
            assert refused.status_code == 403, hostile
    # a public URL written without its scheme names no site: "null" is no match for it
    lax = create_app(engine, scheduler=False, public_url="outlast.acme.example")
    with TestClient(lax) as http:
        refused = http.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                            headers={**auth(key), "Origin": "null"})
        assert refused.status_code == 403


def test_a_cross_site_post_is_refused_even_without_a_host_list(client: TestClient) -> None:
    refused = client.post(f"{API}/tasks/hello/trigger", json={"payload": {}},
                          headers={"Origin": "null"})
    assert refused.status_code == 403


# -- headers ------------------------------------------------------------------------------


def test_pages_cannot_be_framed_and_run_only_their_own_scripts(dev: TestClient) -> None:
    page = dev.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    api = dev.get(f"{API}/runs")
    assert api.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in api.headers["content-security-policy"]


# -- slow bodies --------------------------------------------------------------------------


def send_slowly(url: str, path: str, *, declared: int, sent: bytes,
                timeout: float = 20.0) -> bytes:
    """Open a request declaring ``declared`` body bytes, send ``sent``, then read."""
    host, port = urlsplit(url).hostname, urlsplit(url).port
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
                     .encode() + sent)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)  # the socket timeout bounds the wait if none comes
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.parametrize("path", [f"{API}/tasks/hello/trigger",
                                  f"{API}/waitpoints/tokens/token_x/callback/nope",
                                  "/login"])
def test_a_body_that_does_not_arrive_in_time_gets_408(engine: Engine, tasks: tuple[str, ...],
                                                      path: str) -> None:
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False, body_timeout=0.5)
    with serve(app) as url:
        answer = send_slowly(url, path, declared=100, sent=b'{"payload":')
        assert answer.startswith(b"HTTP/1.1 408"), answer
        # a body sent at once is served as before
        whole = b'{"payload": {}}'
        fast = send_slowly(url, f"{API}/tasks/hello/trigger", declared=len(whole),
                           sent=whole)
        assert not fast.startswith(b"HTTP/1.1 408"), fast
