"""The ASGI app: the API route table over HTTP, health checks and the OpenAPI document.

Routes are listed explicitly (no decorators), and every ``/api/v1`` route is built from
``routes.all_routes()``, the same table ``LocalTransport`` dispatches in process, so HTTP
and in-process clients get one implementation and one set of checks. Each route's key
scope is checked with its key (``core/key_scopes.py``). The engine is
synchronous, so handlers (and key lookups) run in worker threads, no more at once than the
store can serve; the event loop only moves bytes. Every request first passes
``guard.RequestGuard`` (Host and Origin checks, a deadline for its body, security headers);
with ``cors_origins``, the run reads then pass ``cors.CrossOriginReads``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from outlast import __version__
from outlast.api import routes
from outlast.api.routes import ApiContext, ApiRequest
from outlast.core.settings import DEFAULT_MAX_PAYLOAD_BYTES, Settings
from outlast.engine import Engine
from outlast.engine.health import pending_migrations
from outlast.engine.project_keys import load_keys
from outlast.errors import PayloadTooLargeError, ValidationError
from outlast.observability import TRACEPARENT_HEADER, current_traceparent, valid_traceparent
from outlast.sdk.registry import Registry
from outlast.server import openapi, realtime, realtime_js
from outlast.server.auth import Authenticator
from outlast.server.cors import CrossOriginReads
from outlast.server.dashboard import DashboardMount, dashboard_app
from outlast.server.errors import EXCEPTION_HANDLERS, Endpoint, guarded
from outlast.server.guard import BODY_TIMEOUT, RequestGuard
from outlast.server.metrics import ServerMetrics, metrics_endpoint
from outlast.server.realtime import Realtime
from outlast.server.scheduler import Scheduler

log = logging.getLogger("outlast.server")
T = TypeVar("T")

#: room in a request body beside its payload (options, the JSON around it)
BODY_ENVELOPE_BYTES = 1024 * 1024
#: the body limit with the default payload limit (``body_limit`` follows the setting)
MAX_BODY_BYTES = DEFAULT_MAX_PAYLOAD_BYTES + BODY_ENVELOPE_BYTES
#: a body declared no larger than this is read before the key is checked (see api_endpoint)
SMALL_BODY_BYTES = 64 * 1024
HEALTH_TIMEOUT = 5.0
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def create_app(
    engine: Engine,
    *,
    registry: Registry | None = None,
    dev_api_key: str | None = None,
    scheduler: bool = True,
    title: str = "Outlast",
    project: str | None = None,
    readiness: Callable[[], str | None] | None = None,
    secret: str | None = None,
    allowed_hosts: frozenset[str] | None = None,
    body_timeout: float = BODY_TIMEOUT,
    public_url: str | None = None,
    metrics_public: bool = False,
    cors_origins: tuple[str, ...] = (),
) -> Starlette:
    """The server app; with ``scheduler`` it also sweeps while it holds the lease.

    ``project`` (``outlast.toml``'s) is shown by the dashboard; the API does not use it.
    ``readiness`` says why the server cannot serve yet (None once it can): ``outlast dev``
    is not ready before its worker registered the tasks. ``/readyz`` answers with it.
    ``secret`` (the config's ``OUTLAST_SECRET``) signs public tokens and dashboard
    sessions; without it the database's own secret does. ``allowed_hosts`` are the host
    names the server answers to (None: any, for an app embedded in tests); see ``guard``.
    ``public_url`` (``OUTLAST_PUBLIC_URL``) is the server's own site for the Origin check.
    ``metrics_public`` lets ``/metrics`` answer without an API key (``server/metrics.py``).
    ``cors_origins`` are the sites whose pages may read runs and follow them (``cors``).
    """
    keys = load_keys(engine, secret)
    ctx = ApiContext(engine=engine, registry=registry)
    auth = Authenticator(engine, dev_api_key)
    table = routes.all_routes()
    spec = openapi.document(table, title, __version__)
    live = Realtime(engine, auth)
    realtime.document(spec, openapi.API_PREFIX)
    app_routes: list[BaseRoute] = [
        Route("/healthz", guarded(healthz(engine)), methods=["GET"]),
        Route("/readyz", guarded(readyz(engine, readiness)), methods=["GET"]),
        Route("/metrics", guarded(metrics_endpoint(
            ServerMetrics(engine, auth, public=metrics_public))), methods=["GET"]),
        Route("/api/openapi.json", guarded(openapi_json(spec)), methods=["GET"]),
        # server-sent events: async endpoints, not the thread-pool handler table
        *live.routes(openapi.API_PREFIX),
        *api_routes(table, ctx, auth),
        # before the dashboard's own /static: the browser's realtime client
        Route(realtime_js.PATH, guarded(realtime_js.realtime_js()), methods=["GET"]),
        # last: every other path is a dashboard page (``outlast dev`` needs no login)
        DashboardMount(dashboard_app(engine, keys, registry=registry,
                                     dev_mode=bool(dev_api_key),
                                     broadcaster=live.broadcaster, project=project)),
    ]
    guard = Middleware(RequestGuard, allowed_hosts=allowed_hosts, body_timeout=body_timeout,
                       public_url=public_url)
    middleware = [guard]
    if cors_origins:
        middleware.append(Middleware(CrossOriginReads, origins=cors_origins))
    app = Starlette(routes=app_routes, exception_handlers=EXCEPTION_HANDLERS,
                    middleware=middleware, lifespan=_lifespan(engine, scheduler))
    app.state.engine = engine
    app.state.auth = auth
    app.state.realtime = live
    app.state.scheduler = None
    return app


def api_routes(table: list[routes.Route], ctx: ApiContext, auth: Authenticator) -> list[Route]:
    threads = HandlerThreads(ctx.engine.store.concurrency)
    return [Route(openapi.API_PREFIX + r.path, guarded(api_endpoint(r, ctx, auth, threads)),
                  methods=[r.method], name=openapi.operation_id(r)) for r in table]


class HandlerThreads:
    """Runs API handlers in worker threads, at most ``size`` at once per event loop.

    Every handler holds a database transaction, so threads beyond what the store serves
    at once (its pool on PostgreSQL, one writer on SQLite) only wait inside it, and under
    the GIL their wake-ups take CPU from the ones that run: with Starlette's 40 threads
    and 50 triggers in flight, a trigger through the app cost 0.98 ms of CPU on
    PostgreSQL against 0.69 ms with 10. The other endpoints keep Starlette's pool.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        # a limiter belongs to one event loop; tests run one app in several
        self._limiter: RunVar[anyio.CapacityLimiter] = RunVar(f"outlast-api-{id(self)}")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            limiter = self._limiter.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(self._size)
            self._limiter.set(limiter)
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


def api_endpoint(route: routes.Route, ctx: ApiContext, auth: Authenticator,
                 threads: HandlerThreads) -> Endpoint:
    """An endpoint that authenticates, reads the JSON body and runs ``route.handler``.

    A request whose body is declared small (every trigger) has it read first, and the key
    check, the parse and the handler then share one trip to the thread pool: each trip
    costs a queue hand-off and two wake-ups, as much CPU as the trigger's own SQL. A large
    or undeclared body is read only after its key checked out, one trip earlier.
    """

    limit = body_limit(ctx.engine.settings)

    async def endpoint(request: Request) -> Response:
        # a public route (a token's callback URL) carries its own secret in the path
        authorization = None if route.public else request.headers.get("authorization")
        has_body = request.method in _BODY_METHODS
        asked = ApiRequest("", dict(request.path_params), query_lists(request),
                           traceparent=trace_context(request))
        if has_body and not route.public and not _small_body(request):
            # authenticate before reading a possibly large body from a stranger
            env = await threads.run(auth.environment, authorization, route.scope,
                                    _action(route))
            raw = await read_body(request, limit)
            status, data = await threads.run(_serve, route, ctx, replace(asked, env=env), raw)
        else:
            raw = await read_body(request, limit) if has_body else b""
            status, data = await threads.run(
                _authenticate_and_serve, route, ctx, auth, authorization, asked, raw)
        if isinstance(data, routes.RawJson):
            return StreamingResponse(iterate_in_threadpool(data.chunks), status_code=status,
                                     media_type="application/json",
                                     headers={"content-length": str(data.size)})
        return JSONResponse(data, status_code=status)

    return endpoint


def trace_context(request: Request) -> str | None:
    """The trace a trigger's runs join: the request's own span when the app around this
    one traces requests (it descends from the caller's header), else a valid
    ``traceparent`` header; a malformed header is ignored, never an error."""
    return current_traceparent() or valid_traceparent(request.headers.get(TRACEPARENT_HEADER))


def _small_body(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return declared.isdigit() and int(declared) <= SMALL_BODY_BYTES


def _authenticate_and_serve(route: routes.Route, ctx: ApiContext, auth: Authenticator,
                            authorization: str | None, req: ApiRequest,
                            raw: bytes) -> tuple[int, Any]:
    """The key check (first, so a stranger gets 401 whatever the body) and the handler."""
    env = "" if route.public else auth.environment(authorization, route.scope, _action(route))
    return _serve(route, ctx, replace(req, env=env), raw)


def _action(route: routes.Route) -> str:
    """The route as a scope error names it: ``POST /api/v1/runs/{run_id}/cancel``."""
    return f"{route.method} {openapi.API_PREFIX}{route.path}"


def _serve(route: routes.Route, ctx: ApiContext, req: ApiRequest, raw: bytes) -> tuple[int, Any]:
    return routes.call(route, ctx, replace(req, body=parse_json(raw)))


def query_lists(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


def body_limit(settings: Settings) -> int:
    """The largest request body: the payload limit (``OUTLAST_MAX_PAYLOAD_BYTES``) and
    room for what surrounds it."""
    return settings.max_payload_bytes + BODY_ENVELOPE_BYTES


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refusing more than ``limit`` bytes without buffering all of it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"request body is over {limit} bytes ({size}+); a payload may be at most "
        f"{limit - BODY_ENVELOPE_BYTES} bytes (OUTLAST_MAX_PAYLOAD_BYTES)", limit=limit)


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
    """200 while the process runs and the database answers a query: for a liveness
    probe, which restarts a process that fails it. Says nothing about the schema or the
    tasks: a server waiting for ``outlast migrate`` is alive, and restarting it helps
    nobody."""

    async def endpoint(request: Request) -> Response:
        if await _answers(engine):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unavailable"}, status_code=503)

    return endpoint


def readyz(engine: Engine, readiness: Callable[[], str | None] | None) -> Endpoint:
    """200 once this server can serve triggers; 503 with why not: the database does not
    answer, its schema lacks migrations this code has, or ``readiness`` objects
    (``outlast dev``: its worker has not registered the tasks yet). For a load balancer's
    readiness probe, which sends traffic only to a ready server."""
    migrated = False  # once the schema is current it stays so: not asked again

    async def endpoint(request: Request) -> Response:
        nonlocal migrated
        reason = None if await _answers(engine) else "the database does not answer"
        if reason is None and not migrated:
            missing = await anyio.to_thread.run_sync(pending_migrations, engine.store)
            migrated = not missing
            if missing:
                reason = (f"the database schema lacks {len(missing)} migration(s) "
                          f"({missing[0]}…): run `outlast migrate`")
        if reason is None and readiness is not None:
            reason = readiness()
        if reason is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)

    return endpoint


async def _answers(engine: Engine) -> bool:
    """Whether the store answers within ``HEALTH_TIMEOUT``: a database that hangs must
    not hang the probe."""
    ok = False
    with anyio.move_on_after(HEALTH_TIMEOUT):
        ok = await anyio.to_thread.run_sync(store_answers, engine, abandon_on_cancel=True)
    return ok


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


def _lifespan(engine: Engine,
              with_scheduler: bool) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """Start upkeep when asked; always stop the realtime listener at shutdown.

    Without the second, an app built with ``scheduler=False`` (embedded, or in tests) kept
    its listener thread and its database connection reconnecting after shutdown.
    """
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        scheduler = Scheduler(engine) if with_scheduler else None
        app.state.scheduler = scheduler
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)
            app.state.scheduler = None
            await run_in_threadpool(app.state.realtime.close)

    return lifespan
