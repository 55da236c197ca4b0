"""The OpenAPI 3.1 document, generated from the same route table the server serves.

Because both come from ``routes.all_routes()``, the document cannot drift from the API.
Request and response schemas come from the types each route names (``Route.body``,
``Route.returns``): the ``TypedDict``s of ``outlast.core.params`` the SDK's signatures take and
the records of ``outlast.core.records`` the SDK reads back, rendered by pydantic, so the
document, the SDK and its type checks describe one set of shapes.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from pydantic import TypeAdapter

from outlast.api.routes import Route
from outlast.core.key_scopes import READ

SCHEMAS = "#/components/schemas/"
Mode = Literal["validation", "serialization"]

API_PREFIX = "/api/v1"
_PARAM = re.compile(r"\{(\w+)\}")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object", "additionalProperties": True,
                                   "description": "Free-form: what the error is about"}},
    }},
}

_PUBLIC = {
    "/healthz": ("getHealth", "Liveness: 200 while the process runs and the database "
                 "answers, else 503"),
    "/readyz": ("getReadiness", "Readiness: 200 once the server can serve triggers (the "
                "database answers, its schema has every migration, and in `outlast dev` the "
                "worker registered the tasks), else 503 with a reason"),
    "/api/openapi.json": ("getOpenapi", "This document"),
}

#: ``/metrics`` takes the API key (or none, with ``metrics_public``) and answers text
#: the API key scope an operation needs (``core/key_scopes.py``); a full key has them all
SCOPE_FIELD = "x-outlast-key-scope"
_METRICS: dict[str, Any] = {
    "operationId": "getMetrics",
    "summary": "Prometheus metrics (text format 0.0.4): runs, queues, workers, waits, "
               "upkeep lag, finished runs and durations",
    "security": [{"bearerAuth": []}, {}],
    SCOPE_FIELD: READ,
    "responses": {
        "200": {"description": "The metrics",
                "content": {"text/plain": {"schema": {"type": "string"}}}},
        "401": {"description": "No valid API key (and metrics are not public)",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}},
    },
}


def document(routes: list[Route], title: str, version: str) -> dict[str, Any]:
    refs, schemas = body_schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = operation(
            route, refs)
    for path, (operation_id, summary) in _PUBLIC.items():
        paths[path] = {"get": {"operationId": operation_id, "summary": summary, "security": [],
                               "responses": {"200": {"description": "OK"}}}}
    paths["/metrics"] = {"get": _METRICS}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An environment's API key"}},
            "schemas": {**schemas, "Error": _ERROR_SCHEMA},
        },
    }


Refs = dict[tuple[str, Mode], Any]
#: rendered schemas by route table; each entry keeps its routes, so their ids stay theirs
_RENDERED: dict[tuple[tuple[str, int, int], ...], tuple[list[Route], Refs, dict[str, Any]]] = {}


def body_schemas(routes: list[Route]) -> tuple[Refs, dict[str, Any]]:
    """Each route's body and response schema as a ``$ref`` (keyed by operation id and
    mode), and the shared component schemas they point to.

    Rendering takes pydantic a good part of a second and every app (each test's too)
    asks for the same table, so it is done once per table and copied out.
    """
    key = tuple((operation_id(r), id(r.body), id(r.returns)) for r in routes)
    if key not in _RENDERED:
        _RENDERED[key] = (list(routes), *_render(routes))
    _, refs, schemas = _RENDERED[key]
    return copy.deepcopy(refs), copy.deepcopy(schemas)


def _render(routes: list[Route]) -> tuple[Refs, dict[str, Any]]:
    adapters: list[tuple[str, Mode, TypeAdapter[Any]]] = []
    for route in routes:
        shapes: tuple[tuple[Mode, Any], ...] = (("validation", route.body),
                                                ("serialization", route.returns))
        for mode, shape in shapes:
            if shape is not None:
                adapters.append((operation_id(route), mode, TypeAdapter(shape)))
    refs, defs = TypeAdapter.json_schemas(adapters, ref_template=SCHEMAS + "{model}")
    return dict(refs), dict(defs.get("$defs", {}))


def operation(route: Route, refs: Refs | None = None) -> dict[str, Any]:
    refs = refs if refs is not None else body_schemas([route])[0]
    name = operation_id(route)
    answer: dict[str, Any] = {}
    if (name, "serialization") in refs:
        answer["schema"] = refs[name, "serialization"]
    op: dict[str, Any] = {
        "operationId": name,
        "summary": route.summary,
        "tags": [route.path.strip("/").split("/")[0]],
        "responses": {
            "2XX": {"description": "Success", "content": {"application/json": answer}},
            "default": {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
              for name in _PARAM.findall(route.path)]
    params += [{"name": q.name, "in": "query", "required": False, "description": q.description,
                "schema": {"type": q.type}} for q in route.query]
    if params:
        op["parameters"] = params
    if route.public:
        op["security"] = []  # the secret in the path is the credential
    else:
        op[SCOPE_FIELD] = route.scope
    if route.method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = request_body(route, refs.get((name, "validation")))
    return op


def request_body(route: Route, schema: Any) -> dict[str, Any]:
    """The body a route reads; one without a declared type takes none (``{}`` is fine)."""
    if schema is None:
        schema = {"type": "object", "maxProperties": 0, "description": "No fields: send {}"}
    return {"required": route.body is not None and _required(route.body),
            "content": {"application/json": {"schema": schema}}}


def _required(shape: Any) -> bool:
    """A body with a required field must be sent; an all-optional one may be left out."""
    return bool(getattr(shape, "__required_keys__", ()))


def operation_id(route: Route) -> str:
    """``tasks.trigger`` style: the handler's module and name, unique across the table."""
    module = route.handler.__module__.rsplit(".", 1)[-1]
    return f"{module}.{route.handler.__name__}"
