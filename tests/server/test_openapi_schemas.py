"""The OpenAPI document describes every body: what each operation reads and answers.

Schemas come from the types the SDK uses (``outlast.core.params``, ``outlast.core.records``),
so these tests pin two things: no body is an undescribed ``{"type": "object"}``, and what the
server really answers (on SQLite and PostgreSQL) matches the schema the document declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from starlette.testclient import TestClient

from outlast.api.routes import all_routes
from outlast.core.options import _OPTION_NAMES
from outlast.core.params import TriggerParams

API = "/api/v1"


def _schemas(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object below ``node``, with a path that names it."""
    if isinstance(node, dict):
        if "type" in node or "$ref" in node or "anyOf" in node or "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{where}/{i}")


def _bare(schema: dict[str, Any]) -> bool:
    """An object schema that says nothing of its fields and does not say it is free-form."""
    if schema.get("type") != "object":
        return False
    said = {"properties", "maxProperties", "$ref"} & set(schema)
    free_form = "additionalProperties" in schema and "description" in schema
    return not said and not free_form


def test_no_schema_in_the_document_is_a_bare_object(anonymous: TestClient) -> None:
    doc = anonymous.get("/api/openapi.json").json()
    bare = [where for where, schema in _schemas(doc, "") if _bare(schema)]
    assert bare == []


def test_every_operation_declares_its_request_and_response_bodies(
        anonymous: TestClient) -> None:
    doc = anonymous.get("/api/openapi.json").json()
    for route in all_routes():
        op = doc["paths"][API + route.path][route.method.lower()]
        answer = op["responses"]["2XX"]["content"]["application/json"]
        assert answer.get("schema"), f"{route.method} {route.path} declares no response"
        if route.method in ("POST", "PUT", "PATCH"):
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            assert schema != {"type": "object"}, f"{route.method} {route.path}"
            assert route.body is not None or schema.get("maxProperties") == 0


def test_the_trigger_options_type_names_every_option_the_server_accepts() -> None:
    assert set(TriggerParams.__annotations__) == _OPTION_NAMES


def test_a_trigger_body_schema_lists_the_options(anonymous: TestClient) -> None:
    doc = anonymous.get("/api/openapi.json").json()
    options = doc["components"]["schemas"]["TriggerParams"]["properties"]
    assert set(options) == _OPTION_NAMES
    metadata = options["metadata"]["anyOf"][0]
    assert metadata["additionalProperties"] is True and "Free-form" in metadata["description"]


class _Conformance:
    """Checks answers against the schema the document gives their operation."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def check(self, method: str, path: str, template: str, answer: Any) -> None:
        op = self.doc["paths"][API + template][method.lower()]
        schema = op["responses"]["2XX"]["content"]["application/json"]["schema"]
        root = {**schema, "components": self.doc["components"]}
        errors = sorted(Draft202012Validator(root).iter_errors(answer), key=str)
        assert not errors, (method, path, [e.message for e in errors][:3])


def test_answers_match_their_declared_schemas(client: TestClient) -> None:
    spec = _Conformance(client.get("/api/openapi.json").json())

    def call(method: str, template: str, path: str, body: Any = None) -> Any:
        r = client.request(method, API + path, json=body)
        assert r.status_code < 300, (method, path, r.text)
        spec.check(method, path, template, r.json())
        return r.json()

    run = call("POST", "/tasks/{task_id}/trigger", "/tasks/hello/trigger",
               {"payload": {"n": 1}, "options": {"tags": ["t"], "delay": "1h"}})
    call("POST", "/tasks/{task_id}/batch", "/tasks/hello/batch", {"items": [{"payload": 1}]})
    call("POST", "/batch", "/batch", {"items": [{"task": "other", "payload": None}]})
    run_id = run["id"]
    for part in ("", "/events", "/logs", "/attempts", "/journal"):
        call("GET", "/runs/{run_id}" + part, f"/runs/{run_id}{part}")
    call("GET", "/runs", "/runs")
    call("POST", "/runs/{run_id}/reschedule", f"/runs/{run_id}/reschedule", {"delay": "5m"})
    call("PUT", "/runs/{run_id}/metadata", f"/runs/{run_id}/metadata", {"set": {"k": 1}})
    call("POST", "/runs/{run_id}/tags", f"/runs/{run_id}/tags", {"tags": ["vip"]})
    call("POST", "/runs/{run_id}/replay", f"/runs/{run_id}/replay", {})
    call("POST", "/runs/{run_id}/cancel", f"/runs/{run_id}/cancel", {})
    call("GET", "/tasks", "/tasks")
    _tokens(call)
    _queues_and_schedules(call)


def _tokens(call: Any) -> None:
    token = call("POST", "/waitpoints/tokens", "/waitpoints/tokens",
                 {"timeout": "1h", "tags": ["a"]})
    call("GET", "/waitpoints/tokens", "/waitpoints/tokens")
    call("GET", "/waitpoints/tokens/{token_id}", f"/waitpoints/tokens/{token['id']}")
    call("POST", "/waitpoints/tokens/{token_id}/complete",
         f"/waitpoints/tokens/{token['id']}/complete", {"output": {"ok": True}})


def _queues_and_schedules(call: Any) -> None:
    call("GET", "/queues", "/queues")
    call("PATCH", "/queues/{name}", "/queues/hello", {"concurrency_limit": 2})
    call("POST", "/queues/{name}/pause", "/queues/hello/pause", {})
    call("GET", "/queues/{name}", "/queues/hello")
    call("PUT", "/environment/limit", "/environment/limit", {"concurrency_limit": 4})
    call("GET", "/environment/limit", "/environment/limit")
    made = call("POST", "/schedules", "/schedules", {"task": "hello", "cron": "0 * * * *"})
    path = f"/schedules/{made['id']}"
    call("GET", "/schedules", "/schedules")
    call("PATCH", "/schedules/{schedule_id}", path, {"cron": "5 * * * *"})
    call("POST", "/schedules/{schedule_id}/deactivate", path + "/deactivate", {})
    call("GET", "/schedules/{schedule_id}/ticks", path + "/ticks")
    call("DELETE", "/schedules/{schedule_id}", path)
