"""The HTTP client retries idempotent requests after connection errors, and only those."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from outlast.core.options import parse_options
from outlast.sdk import calls, transports
from outlast.sdk.realtime import parse
from outlast.sdk.transports import HttpTransport


class Flaky:
    """Fails the first ``failures`` requests with a connection error, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.failures:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"id": "run_1", "task": "t", "created": True})


def transport(flaky: Flaky, retries: int = transports.RETRIES) -> HttpTransport:
    t = HttpTransport("http://outlast.invalid", "key", retries=retries)
    t._http = httpx.Client(base_url="http://outlast.invalid/api/v1",
                           transport=httpx.MockTransport(flaky))
    return t


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transports, "RETRY_BACKOFF", 0.001)


def test_gets_are_retried() -> None:
    flaky = Flaky(2)
    assert transport(flaky).send(calls.retrieve("run_1"))["id"] == "run_1"
    assert len(flaky.requests) == 3


def test_a_retried_trigger_carries_one_generated_idempotency_key() -> None:
    flaky = Flaky(2)
    transport(flaky).send(calls.trigger("t", {"x": 1}, None))
    keys = {json.loads(r.content)["options"]["idempotency_key"] for r in flaky.requests}
    assert len(flaky.requests) == 3 and len(keys) == 1
    assert next(iter(keys)).startswith("auto-")


def test_a_callers_idempotency_key_is_kept() -> None:
    flaky = Flaky(1)
    transport(flaky).send(calls.trigger("t", None, {"idempotency_key": "order-1"}))
    assert [json.loads(r.content)["options"]["idempotency_key"]
            for r in flaky.requests] == ["order-1", "order-1"]


def test_a_debounced_trigger_gets_no_generated_idempotency_key() -> None:
    """The server refuses debounce with an idempotency key; a debounce joins its run."""
    flaky = Flaky(0)
    transport(flaky).send(calls.trigger("t", None, {"debounce": {"key": "k", "delay": "5s"}}))
    options = json.loads(flaky.requests[0].content)["options"]
    assert "idempotency_key" not in options
    parse_options(options, 0.0)  # what the server does with it: no ValidationError


def test_other_writes_are_not_retried() -> None:
    flaky = Flaky(1)
    with pytest.raises(httpx.ConnectError):
        transport(flaky).send(calls.run_action("run_1", "cancel"))
    assert len(flaky.requests) == 1


def test_retries_give_up() -> None:
    flaky = Flaky(100)
    with pytest.raises(httpx.ConnectError):
        transport(flaky, retries=2).send(calls.retrieve("run_1"))
    assert len(flaky.requests) == 3


def test_server_sent_events_are_parsed() -> None:
    text = ": heartbeat\n\nid: 3\nevent: run\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n"
    events: list[Any] = list(parse(text.split("\n")))
    assert [(e.id, e.event, e.data) for e in events] == [(3, "run", '{"a":1}'),
                                                         (None, "message", "x\ny")]


class Unavailable(Flaky):
    """Answers the first ``failures`` requests as a server whose database is away."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.failures:
            return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": {
                "code": "platform_unavailable", "message": "the database is unavailable"}})
        return httpx.Response(200, json={"id": "run_1", "task": "t", "created": True})


def test_a_server_whose_database_is_away_is_asked_again() -> None:
    flaky = Unavailable(2)
    assert transport(flaky).send(calls.retrieve("run_1"))["id"] == "run_1"
    assert len(flaky.requests) == 3
