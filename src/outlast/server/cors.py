"""Cross-origin reads for the sites in ``cors_origins``: realtime and run reads, nothing else.

A web page on another site (``https://app.example.com``) may follow a run with a public
token (``/static/realtime.js``), or read runs with a key it was given. Browsers let it only
if the answer names its origin in ``Access-Control-Allow-Origin``; this middleware adds
that, for the configured origins only, to GETs of:

    /api/v1/runs                         the runs list
    /api/v1/runs/{run_id}                one run
    /api/v1/runs/{run_id}/trace          its trace
    /api/v1/runs/{run_id}/subscribe      realtime (and /runs/subscribe?tag=)
    /api/v1/runs/{run_id}/streams/{key}  a run's stream

and answers their preflight ``OPTIONS`` (GET, with ``Authorization`` and ``Last-Event-ID``).
Every other route — triggers, writes, the dashboard — gets no CORS header ever, so a page
of another site can neither read them nor send them anything but simple requests, which
the Origin check of ``guard`` refuses for writes anyway. Credentials (cookies) are never
allowed: the API reads bearer keys and tokens only, so no dashboard session rides along.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outlast.core.origins import ANY
from outlast.server.openapi import API_PREFIX

_SEGMENT = r"[^/]+"
READ_PATHS = re.compile("^" + re.escape(API_PREFIX) + "/runs(?:/" + _SEGMENT
                        + "(?:/subscribe|/trace|/streams/" + _SEGMENT + ")?|/subscribe)?$")
ALLOWED_HEADERS = "Authorization, Last-Event-ID, Cache-Control"
#: seconds a browser may reuse a preflight's answer
PREFLIGHT_MAX_AGE = "600"


def is_cross_origin_path(path: str) -> bool:
    return READ_PATHS.match(path) is not None


class CrossOriginReads:
    """ASGI middleware doing what the module docstring says, for ``origins``."""

    def __init__(self, app: ASGIApp, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(o.lower() for o in origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (ANY in self.origins
                                       or origin.lower() in self.origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_cross_origin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(send, origin, headers["access-control-request-method"])
            return
        if scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        extra = [(b"vary", b"Origin")]
        if self.allows(origin):
            assert origin is not None
            extra.append((b"access-control-allow-origin", origin.encode("latin-1")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), *extra])
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _preflight(self, send: Send, origin: str | None, method: str) -> None:
        """204 with the CORS headers for an allowed origin asking to GET; a bare 403
        (no CORS header: the browser refuses the request) for anyone else."""
        headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
        allowed = self.allows(origin) and method.upper() == "GET"
        if allowed:
            assert origin is not None
            headers += [(b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-methods", b"GET"),
                        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                        (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]
        await send({"type": "http.response.start", "status": 204 if allowed else 403,
                    "headers": headers})
        await send({"type": "http.response.body", "body": b""})
