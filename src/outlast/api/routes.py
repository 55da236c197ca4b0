"""The HTTP API as a table of plain handler functions.

The Starlette app serves this table over HTTP, and ``LocalTransport`` (a client talking
to a database directly, or a worker answering its children) dispatches the very same
table in process, so both paths share one implementation and one set of checks. It lives
outside ``server`` so that the SDK and the worker reach it without importing the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from outlast import inputs
from outlast.core.key_scopes import FULL, READ
from outlast.engine import Engine
from outlast.errors import NotFoundError


@dataclass(frozen=True, init=False)
class ApiRequest:
    env: str
    params: dict[str, str] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    body: Any = None
    #: the caller's trace context, checked (``observability.valid_traceparent``): the
    #: ``traceparent`` header, or the span current in process; a trigger's runs join it
    traceparent: str | None = None
    #: in process (``LocalApi.batch_trigger``): what the caller makes of the answer, which
    #: a handler that takes it returns instead of the answer, made as early as it can
    shape: Callable[[Any], Any] | None = None

    def __init__(self, env: str, params: dict[str, str] | None = None,
                 query: dict[str, list[str]] | None = None, body: Any = None,
                 traceparent: str | None = None,
                 shape: Callable[[Any], Any] | None = None) -> None:
        # one update of the instance's dict, as ``NewRun``'s: a frozen dataclass's own
        # ``__init__`` sets each field with ``object.__setattr__`` (every API call makes one)
        self.__dict__.update(env=env, params={} if params is None else params,
                             query={} if query is None else query, body=body,
                             traceparent=traceparent, shape=shape)

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def q_list(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(v for v in value.split(",") if v)
        return out


class PayloadCodec(Protocol):
    def to_json(self, payload: Any, task_id: str) -> str: ...


class LocalTask(Protocol):
    @property
    def codec(self) -> PayloadCodec: ...


class LocalTasks(Protocol):
    """The tasks this process has loaded (the SDK's ``Registry``): a trigger's payload is
    checked by the task's own code when it is here, else against its registered schema.
    Declared here so the handlers never import the SDK."""

    def find(self, task_id: str) -> LocalTask | None: ...


@dataclass
class ApiContext:
    engine: Engine
    registry: LocalTasks | None = None


Handler = Callable[[ApiContext, ApiRequest], tuple[int, Any]]


@dataclass(frozen=True)
class RawJson:
    """A handler's answer that is JSON text already, in chunks read as they are sent (a
    run's payload or output kept in the blob store, up to the size limit): served as it
    is over HTTP, parsed in process."""

    chunks: Iterator[bytes]
    size: int


@dataclass(frozen=True)
class Query:
    """A query parameter a route reads, for the OpenAPI document (all are optional)."""

    name: str
    description: str
    type: str = "string"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    #: no API key: the path itself holds a secret (token callback URLs)
    public: bool = False
    #: documented query parameters
    query: tuple[Query, ...] = ()
    #: the request body's type (a ``TypedDict`` of ``outlast.core.params``), for OpenAPI
    body: Any = None
    #: the response's type (a record or JSON shape of ``outlast.core.records``), for OpenAPI
    returns: Any = None
    #: the API key scope it needs (``core/key_scopes.py``); None: read for a GET, else full
    needs: str | None = None

    @property
    def scope(self) -> str:
        """The key scope this route needs."""
        if self.needs is not None:
            return self.needs
        return READ if self.method == "GET" else FULL

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path) + "$")


def call(route: Route, ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """Run ``route``'s handler once the path and query values are texts the store can hold
    (a NUL in a run id is a 400 naming ``run_id``, not a database error)."""
    for name, value in req.params.items():
        inputs.text(value, name)
    for name, values in req.query.items():
        for value in values:
            inputs.text(value, name)
    return route.handler(ctx, req)


def all_routes() -> list[Route]:
    from outlast.api import (
        auth,
        batch,
        bulk,
        errors,
        queues,
        runs,
        schedules,
        tasks,
        versions,
        waitpoints,
    )

    return [*tasks.ROUTES, *batch.ROUTES, *runs.ROUTES, *schedules.ROUTES, *waitpoints.ROUTES,
            *auth.ROUTES, *queues.ROUTES, *versions.ROUTES, *errors.ROUTES,
            *bulk.ROUTES]


_COMPILED: list[tuple[Route, re.Pattern[str]]] = []


def match(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route for ``method path`` (path below ``/api/v1``) and its path parameters."""
    if not _COMPILED:
        _COMPILED.extend((r, r.pattern) for r in all_routes())
    path_matched = False
    for route, pattern in _COMPILED:
        found = pattern.match(path)
        if found:
            path_matched = True
            if route.method == method:
                return route, found.groupdict()
    raise NotFoundError(
        f"{method} {path} is not an API endpoint"
        + (" (wrong method)" if path_matched else ""), path=path
    )
