"""The dashboard: server-rendered pages over the engine, mounted at ``/``.

Jinja2 templates, a little vendored htmx for the live parts (fragments of the same
pages, fetched again when a server-sent event from ``live`` says something changed, and
on a slow poll besides), and charts drawn as inline SVG on the server; nothing is fetched from the
network, so it works offline under ``outlast dev``. Each page lives in its own module;
the route table below is the whole map.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from outlast.engine import Engine
from outlast.engine.project_keys import ServerKeys
from outlast.sdk.registry import Registry
from outlast.server.dashboard import (
    bulk_actions,
    error_groups,
    pages,
    queues,
    run,
    runs,
    schedules,
    tasks,
    tokens,
    versions,
)
from outlast.server.dashboard.live import Live
from outlast.server.dashboard.session import Signer
from outlast.server.dashboard.web import (
    Dashboard,
    Handler,
    endpoint,
    root_path,
    rooted,
    route_path,
    templates,
)
from outlast.server.realtime import Broadcaster

__all__ = ["DashboardMount", "dashboard_app"]

#: paths that belong to the server itself: a miss there stays a JSON 404/405
SERVER_PREFIXES = ("/api/", "/healthz", "/readyz")


class DashboardMount(Mount):
    """The dashboard at ``/``, standing aside for the API so its misses stay JSON."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__("/", app=app)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = route_path(Request(scope))
        if path == "/api" or path.startswith(SERVER_PREFIXES):
            return Match.NONE, {}
        return super().matches(scope)


def dashboard_app(engine: Engine, keys: ServerKeys, *, registry: Registry | None = None,
                  dev_mode: bool = False,
                  broadcaster: Broadcaster | None = None,
                  project: str | None = None) -> Starlette:
    """The dashboard as an ASGI app; ``dev_mode`` (``outlast dev``) needs no login.

    ``keys`` (the server's, see ``public_tokens``) sign its session cookies.

    ``project`` names it in the header, the titles and the login form, so that
    dashboards of several projects open side by side can be told apart. With the
    server's ``broadcaster`` the live parts refresh on server-sent events; without it
    they only poll.
    """
    dash = Dashboard(engine, templates(), Signer(keys), registry, dev_mode,
                     project=project or None, live=broadcaster is not None)
    streams: list[BaseRoute] = []
    if broadcaster is not None:
        live = Live(dash, broadcaster)
        streams = [Route("/runs/live", live.runs, methods=["GET"]),
                   Route("/runs/{run_id}/live", live.run, methods=["GET"])]

    def get(path: str, handler: Handler, public: bool = False) -> Route:
        return Route(path, endpoint(dash, handler, public=public), methods=["GET"])

    def post(path: str, handler: Handler, public: bool = False) -> Route:
        return Route(path, endpoint(dash, handler, public=public), methods=["POST"])

    static = resources.files("outlast.server.dashboard").joinpath("static")
    table: list[BaseRoute] = [
        get("/", runs.runs_page),
        post("/runs/bulk", runs.bulk_action),
        get("/bulk-actions", bulk_actions.bulk_page),
        post("/bulk-actions", bulk_actions.create),
        post("/bulk-actions/{action_id}/abort", bulk_actions.abort),
        *streams,  # before /runs/{run_id}: "live" is no run id
        get("/runs/{run_id}", run.run_page),
        get("/runs/{run_id}/payload.json", run.download_payload),
        get("/runs/{run_id}/output.json", run.download_output),
        post("/runs/{run_id}/cancel", run.cancel),
        post("/runs/{run_id}/replay", run.replay),
        post("/runs/{run_id}/reschedule", run.reschedule),
        post("/runs/{run_id}/resume", run.resume),
        post("/runs/{run_id}/move", run.move),
        get("/errors", error_groups.errors_page),
        get("/errors/{fingerprint}", error_groups.error_page),

        post("/runs/{run_id}/skip-wait", run.skip_wait),
        get("/tasks", tasks.tasks_page),
        get("/tasks/{task_id}", tasks.task_page),
        post("/tasks/{task_id}/test", tasks.test_trigger),
        get("/queues", queues.queues_page),
        post("/queues/environment-limit", queues.set_environment_limit),
        get("/queues/{name:path}", queues.queue_page),
        post("/queues/{name:path}/limits", queues.update),
        post("/queues/{name:path}/reset", queues.reset),
        post("/queues/{name:path}/pause", queues.pause),
        post("/queues/{name:path}/resume", queues.resume),
        get("/schedules", schedules.schedules_page),
        post("/schedules", schedules.create),
        get("/schedules/preview", schedules.preview),
        get("/schedules/{schedule_id}", schedules.schedule_page),
        post("/schedules/{schedule_id}/activate", schedules.activate),
        post("/schedules/{schedule_id}/deactivate", schedules.deactivate),
        get("/tokens", tokens.tokens_page),
        post("/tokens/{token_id}/complete", tokens.complete),
        get("/workers", pages.workers_page),
        get("/versions", versions.versions_page),
        post("/versions/{version}/promote", versions.promote),
        post("/versions/{version}/retire", versions.retire),
        get("/overview", pages.overview_page),
        get("/login", pages.login_page, public=True),
        post("/login", pages.login, public=True),
        post("/logout", pages.logout, public=True),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    dash.pages = frozenset(r.path for r in table if isinstance(r, Route))
    return Starlette(routes=table, exception_handlers={404: not_found(dash)})


def not_found(dash: Dashboard) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        html = dash.templates.get_template("not_found.html").render(
            page=None, nav=dash.nav(), path=route_path(request), env=None, csrf="",
            flash=None, now=dash.engine.clock.now(), dev_mode=dash.dev_mode,
            project=dash.project, root=root_path(request),
            message=f"There is no page at {request.url.path}.")
        return Response(rooted(html, root_path(request)), status_code=404,
                        media_type="text/html")

    return handler
