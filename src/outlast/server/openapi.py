"""The OpenAPI 3.1 document, generated from the same route table the server serves.

Because both come from ``routes.all_routes()``, the document cannot drift from the API.
"""

from __future__ import annotations

import re
from typing import Any

from outlast.api.routes import Route

API_PREFIX = "/api/v1"
_PARAM = re.compile(r"\{(\w+)\}")

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}},
    }},
}

_PUBLIC = {
    "/healthz": ("getHealth", "Health check: 200 once the database answers, else 503"),
    "/readyz": ("getReadiness", "Readiness: 200 once the server can serve triggers (in "
                "`outlast dev`, once its worker registered the tasks), else 503 with a reason"),
    "/api/openapi.json": ("getOpenapi", "This document"),
}


def document(routes: list[Route], title: str, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = operation(route)
    for path, (operation_id, summary) in _PUBLIC.items():
        paths[path] = {"get": {"operationId": operation_id, "summary": summary, "security": [],
                               "responses": {"200": {"description": "OK"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "security": [{"bearerAuth": []}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An environment's API key"}},
            "schemas": {"Error": _ERROR_SCHEMA},
        },
    }


def operation(route: Route) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": operation_id(route),
        "summary": route.summary,
        "tags": [route.path.strip("/").split("/")[0]],
        "responses": {
            "2XX": {"description": "Success", "content": {"application/json": {}}},
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
    if route.method in ("POST", "PUT", "PATCH"):
        op["requestBody"] = {"required": False, "content": {"application/json": {
            "schema": {"type": "object"}}}}
    return op


def operation_id(route: Route) -> str:
    """``tasks.trigger`` style: the handler's module and name, unique across the table."""
    module = route.handler.__module__.rsplit(".", 1)[-1]
    return f"{module}.{route.handler.__name__}"
