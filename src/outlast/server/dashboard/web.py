"""Plumbing every dashboard page shares: who is asking, CSRF, rendering, redirects.

A page handler is a plain synchronous function ``handler(page) -> Response`` run in the
thread pool (the engine is synchronous). ``endpoint`` wraps it: it loads the session,
sends strangers to the login form, checks the CSRF token of every POST, reads the form,
turns an ``OutlastError`` from an action into a message on the next page, and saves the
session cookie.

Mounted under a prefix (``app.mount("/outlast", ...)``, which sets the ASGI ``root_path``),
every page keeps working: handlers and templates deal only in the dashboard's own paths
(``/runs/…``, hidden ``back`` fields, ``next``), and the prefix is added where a URL
leaves for the browser: the redirects here, and every URL attribute of a rendered page
(``rooted``), so no template can forget it.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from outlast.engine import Engine
from outlast.errors import NotFoundError, OutlastError
from outlast.sdk.registry import Registry
from outlast.server.dashboard import data, format
from outlast.server.dashboard.session import Session, Signer, record_live

log = logging.getLogger("outlast.dashboard")

DEV_ENVIRONMENT = "dev"
MAX_FORM_BYTES = 4 * 1024 * 1024
#: the attributes of a page that hold URLs the browser follows, fetches or posts to
_URL_ATTRIBUTES = re.compile(r'\b(href|action|src|hx-get|hx-post|data-live|data-href)="/(?!/)')

#: (path, label, engine attribute the page needs). An entry shows when the engine has
#: the feature and the dashboard has a page at that path, so no link ever leads nowhere.
NAV: list[tuple[str, str, str | None]] = [
    ("/", "Runs", None),
    ("/errors", "Errors", None),
    ("/tasks", "Tasks", None),
    ("/queues", "Queues", None),
    ("/schedules", "Schedules", "schedules"),
    ("/tokens", "Waitpoint tokens", "durable"),
    ("/workers", "Workers", None),
    ("/versions", "Versions", None),
    ("/overview", "Overview", None),
]


@dataclass
class Dashboard:
    """What the pages need, built once per app."""

    engine: Engine
    templates: jinja2.Environment
    signer: Signer
    registry: Registry | None = None
    dev_mode: bool = False
    #: the ``project`` of ``outlast.toml``, shown in the header and titles; None shows none
    project: str | None = None
    #: whether the live parts may listen for server-sent events (``live.py``)
    live: bool = False
    pages: frozenset[str] = frozenset()

    def nav(self) -> list[tuple[str, str]]:
        return [(path, label) for path, label, needs in NAV
                if path in self.pages and (needs is None or hasattr(self.engine, needs))]


@dataclass
class Page:
    """One request as a handler sees it."""

    dash: Dashboard
    request: Request
    session: Session
    env: str
    form: FormData | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.dash.engine

    @property
    def now(self) -> float:
        return self.dash.engine.clock.now()

    def q(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default) if self.form is not None else default
        return value.strip() if isinstance(value, str) else default

    def flash(self, message: str, kind: str = "ok") -> None:
        self.session.set("flash", [kind, message])

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        # a live part's refresh (htmx) keeps only its fragment: it must not take the
        # message that the page loading beside it (after a form's redirect) is to show
        flash = None if self.fragment else self.session.pop("flash")
        html = self.dash.templates.get_template(template).render(
            page=self, nav=self.dash.nav(), path=self.path, env=self.env,
            csrf=self.session.csrf, flash=flash, now=self.now, dev_mode=self.dash.dev_mode,
            project=self.dash.project, live=self.dash.live, root=root_path(self.request),
            **values)
        return HTMLResponse(rooted(html, root_path(self.request)), status_code=status_code)

    @property
    def fragment(self) -> bool:
        """True for a live part's refresh (htmx), which keeps only its fragment."""
        return self.request.headers.get("HX-Request") == "true"

    @property
    def path(self) -> str:
        """The page's path in the dashboard, without the prefix it is mounted under."""
        return route_path(self.request)

    @property
    def here(self) -> str:
        """``path`` with the query string: where a form on this page comes back to."""
        query = self.request.url.query
        return self.path + (f"?{query}" if query else "")

    def redirect(self, url: str) -> RedirectResponse:
        return RedirectResponse(absolute(self.request, url), status_code=303)


Handler = Callable[[Page], Response]


def root_path(request: Request) -> str:
    """The prefix the dashboard is mounted under (``""`` at the site's root)."""
    root = request.scope.get("root_path", "")
    return root.rstrip("/") if isinstance(root, str) else ""


def route_path(request: Request) -> str:
    """The request's path inside the dashboard: the full path minus ``root_path``."""
    path, root = request.url.path, root_path(request)
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root):]
    return path or "/"


def absolute(request: Request, url: str) -> str:
    """A dashboard path (``/runs/x``) as the browser must ask for it, under the prefix."""
    if url.startswith("/") and not url.startswith("//"):
        return root_path(request) + url
    return url


def rooted(html: str, root: str) -> str:
    """``html`` with the prefix put before every dashboard URL its attributes hold."""
    if not root:
        return html
    return _URL_ATTRIBUTES.sub(lambda m: f'{m.group(1)}="{root}/', html)


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go back to: never another host (``//evil``, ``https://…``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def environment(dash: Dashboard, session: Session) -> str | None:
    if dash.dev_mode:
        return DEV_ENVIRONMENT
    digest = session.get("key")
    if not isinstance(digest, str) or not record_live(dash.engine, session):
        return None
    env = data.key_environment(dash.engine, digest)
    return env if env is not None and env == session.get("env") else None


def endpoint(dash: Dashboard, handler: Handler, *, public: bool = False) -> Callable[
        [Request], Any]:
    """An ASGI endpoint running ``handler`` with a ``Page`` (see the module docstring)."""

    @functools.wraps(handler)
    async def serve(request: Request) -> Response:
        session = dash.signer.load(request)
        form = await read_form(request) if request.method == "POST" else None
        if form is not None and not session.csrf_ok(form.get("csrf")):
            return HTMLResponse("The form expired or did not come from this dashboard; "
                                "go back, reload the page and try again.", status_code=403)
        env = await run_in_threadpool(environment, dash, session)
        if env is None and not public:
            next_url = route_path(request) + (
                f"?{request.url.query}" if request.url.query else "")
            response: Response = RedirectResponse(
                absolute(request, "/login?" + urlencode({"next": next_url})), status_code=303)
        else:
            page = Page(dash, request, session, env or "", form)
            response = await run_in_threadpool(_run, handler, page)
        dash.signer.save(session, request, response)
        return response

    return serve


async def read_form(request: Request) -> FormData:
    """The URL-encoded body of a dashboard form (the only kind its pages send)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return FormData()  # no CSRF token in it: refused as a stale form
    pairs: list[tuple[str, str | UploadFile]] = list(
        parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return FormData(pairs)


def _run(handler: Handler, page: Page) -> Response:
    try:
        return handler(page)
    except NotFoundError as exc:
        if page.request.method == "POST":
            return _back(page, exc)
        return page.render("not_found.html", status_code=404, message=exc.message)
    except OutlastError as exc:
        if page.request.method != "POST":
            raise
        return _back(page, exc)


def _back(page: Page, exc: OutlastError) -> Response:
    page.flash(exc.message, "error")
    return page.redirect(safe_next(page.field("back"), page.path))


def templates() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("outlast.server.dashboard", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(format.FILTERS)
    env.filters["urlquote"] = lambda v: quote(str(v), safe="")
    env.globals.update(clock_time=format.clock_time, ago=format.ago, when=format.when,
                       run_duration=format.run_duration, is_final=format.is_final)
    return env
