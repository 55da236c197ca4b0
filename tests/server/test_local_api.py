"""The handler table in process (``outlast.api.local``) answers as the HTTP server does."""

from __future__ import annotations

import json
import re

import pytest
from tests.conftest import register_tasks

from outlast.api.local import LocalApi
from outlast.engine import Engine
from outlast.errors import NotFoundError, ValidationError
from outlast.sdk.calls import Call
from outlast.sdk.transports import LocalTransport


@pytest.mark.parametrize(("call", "error", "message"), [
    (Call("POST", "/tasks/t/trigger", {"payload": float("nan")}), ValidationError,
     "request is not JSON-serialisable"),
    (Call("POST", "/tasks/t/trigger", {"payload": {1, 2}}), ValidationError,
     "request is not JSON-serialisable"),
    (Call("POST", "/no-such-path", {"payload": {1, 2}}), NotFoundError,
     "is not an API endpoint"),  # the route is matched before the body is read
    (Call("GET", "/tasks/t/trigger"), NotFoundError, "(wrong method)"),
])
def test_bodies_and_paths_fail_as_over_http(engine: Engine, call: Call, error: type[Exception],
                                            message: str) -> None:
    register_tasks(engine, "t")
    with pytest.raises(error, match=re.escape(message)):
        LocalTransport(engine, "dev").send(call)


def test_a_call_reaches_the_engine_with_query_values_as_texts(engine: Engine) -> None:
    register_tasks(engine, "t")
    api = LocalApi(engine)
    created = api.handle("dev", "POST", "/tasks/t/trigger", None, {"payload": {"n": 1}})
    page = api.handle("dev", "GET", "/runs", {"limit": 5, "task": "t"}, None)
    assert [r["id"] for r in page["data"]] == [created["id"]]


@pytest.mark.parametrize("body", [
    {"payload": None, "options": {}},
    {"payload": {"n": [1, 2.5, "é", True, False, None, {"deep": []}]}, "options": {"tags": ["a"]}},
    {"payload": (1, 2)},                      # a tuple arrives as a list
    {"payload": {1: "one"}},                  # a number key arrives as text
    {"payload": list(range(500))},            # a large body goes the JSON way
    {"payload": True, "nested": {"x": 1.0}},
])
def test_a_body_arrives_as_json_would_carry_it_and_as_a_copy(body: dict[str, object]) -> None:
    from outlast.api.local import _json_roundtrip

    got = _json_roundtrip(body)
    assert got == json.loads(json.dumps(body))
    assert [type(v) for v in got.values()] == [type(v) for v in json.loads(
        json.dumps(body)).values()]
    assert got is not body
