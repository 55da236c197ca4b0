"""The ASGI app: the API route table over HTTP, a health check and the OpenAPI document.

Routes are listed explicitly (no decorators), and every ``/api/v1`` route is built from
``routes.all_routes()``, the same table ``LocalTransport`` dispatches in process, so HTTP
and in-process clients get one implementation and one set of checks. The engine is
synchronous, so handlers (and key lookups) run in Starlette's thread pool; the event
loop only moves bytes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from outlast import __version__
from outlast.engine import Engine
from outlast.errors import PayloadTooLargeError, ValidationError
from outlast.sdk.registry import Registry
from outlast.server import openapi, realtime
from outlast.server.api import routes
from outlast.server.api.routes import ApiContext, ApiRequest
from outlast.server.auth import Authenticator
from outlast.server.dashboard import DashboardMount, dashboard_app
from outlast.server.errors import EXCEPTION_HANDLERS, Endpoint, guarded
from outlast.server.realtime import Realtime
from outlast.server.scheduler import Scheduler

log = logging.getLogger("outlast.server")

MAX_BODY_BYTES = 4 * 1024 * 1024
HEALTH_TIMEOUT = 5.0
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(
    engine: Engine,
    *,
    registry: Registry | None = None,
    dev_api_key: str | None = None,
    scheduler: bool = True,
    title: str = "Outlast",
) -> Starlette:
    """The server app; with ``scheduler`` it also sweeps while it holds the lease."""
    ctx = ApiContext(engine=engine, registry=registry)
    auth = Authenticator(engine, dev_api_key)
    table = routes.all_routes()
    spec = openapi.document(table, title, __version__)
    live = Realtime(engine, auth)
    realtime.document(spec, openapi.API_PREFIX)
    app_routes: list[BaseRoute] = [
        Route("/healthz", guarded(healthz(engine)), methods=["GET"]),
        Route("/api/openapi.json", guarded(openapi_json(spec)), methods=["GET"]),
        # server-sent events: async endpoints, not the thread-pool handler table
        *live.routes(openapi.API_PREFIX),
        *api_routes(table, ctx, auth),
        # last: every other path is a dashboard page (``outlast dev`` needs no login)
        DashboardMount(dashboard_app(engine, registry=registry, dev_mode=bool(dev_api_key),
                                     broadcaster=live.broadcaster)),
    ]
    app = Starlette(routes=app_routes, exception_handlers=EXCEPTION_HANDLERS,
                    lifespan=_lifespan(engine) if scheduler else None)
    app.state.engine = engine
    app.state.auth = auth
    app.state.realtime = live
    app.state.scheduler = None
    return app


def api_routes(table: list[routes.Route], ctx: ApiContext, auth: Authenticator) -> list[Route]:
    return [Route(openapi.API_PREFIX + r.path, guarded(api_endpoint(r, ctx, auth)),
                  methods=[r.method], name=openapi.operation_id(r)) for r in table]


def api_endpoint(route: routes.Route, ctx: ApiContext, auth: Authenticator) -> Endpoint:
    """An endpoint that authenticates, reads the JSON body and runs ``route.handler``."""

    async def endpoint(request: Request) -> Response:
        # authenticate before reading a possibly large body from a stranger; a public
        # route (a token's callback URL) carries its own secret and finds its environment
        env = "" if route.public else await run_in_threadpool(
            auth.environment, request.headers.get("authorization"))
        raw = await read_body(request) if request.method in _BODY_METHODS else b""
        api_request = ApiRequest(env, dict(request.path_params), query_lists(request))
        status, data = await run_in_threadpool(_serve, route, ctx, api_request, raw)
        return JSONResponse(data, status_code=status)

    return endpoint


def _serve(route: routes.Route, ctx: ApiContext, req: ApiRequest, raw: bytes) -> tuple[int, Any]:
    body = parse_json(raw)
    full = ApiRequest(req.env, req.params, req.query, body)
    return route.handler(ctx, full)


def query_lists(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


async def read_body(request: Request) -> bytes:
    """The body, refusing more than ``MAX_BODY_BYTES`` without buffering all of it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large(int(declared))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body is over {MAX_BODY_BYTES} bytes ({size}+); payloads are limited "
        "to 3 MB", limit=MAX_BODY_BYTES)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    """None for an empty body; ValidationError (400) for anything that is not JSON."""
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ValidationError(f"request body is not valid JSON: {exc}") from None


def healthz(engine: Engine) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ok = False
        # a database that hangs must not hang the health check: give up after a while
        with anyio.move_on_after(HEALTH_TIMEOUT):
            ok = await anyio.to_thread.run_sync(store_answers, engine, abandon_on_cancel=True)
        if ok:
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return endpoint


def store_answers(engine: Engine) -> bool:
    """True if a read-only round trip to the store succeeds."""
    try:
        return engine.ping()
    except Exception as exc:
        log.warning("health check: the store does not answer: %s", exc)
        return False


def openapi_json(spec: dict[str, Any]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(spec)

    return endpoint


def _lifespan(engine: Engine) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = Scheduler(engine)
        app.state.scheduler = scheduler
        scheduler.start()
        try:
            yield
        finally:
            await run_in_threadpool(scheduler.stop)
            app.state.scheduler = None
            await run_in_threadpool(app.state.realtime.close)

    return lifespan
