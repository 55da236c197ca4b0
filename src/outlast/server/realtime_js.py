"""``GET /static/realtime.js``: the browser's realtime client, a dependency-free ES module.

Pages import it from the server they follow runs on, so module and API always match:

    import { subscribeToRun } from "https://outlast.example.com/static/realtime.js";

It is served with ``Access-Control-Allow-Origin: *`` whatever ``cors_origins`` says: a
module script of another site is fetched in CORS mode, and this file is public code with
no data in it (what it then reads is still subject to ``cors_origins`` and a token). It
changes only with the package, so it is cached for a few minutes and revalidated by its
ETag after that, and an upgrade reaches browsers within minutes.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from outlast.server.errors import Endpoint

PATH = "/static/realtime.js"
MEDIA_TYPE = "text/javascript; charset=utf-8"
CACHE_CONTROL = "public, max-age=300"


def module_source() -> bytes:
    return resources.files("outlast.server").joinpath("static", "realtime.js").read_bytes()


def realtime_js() -> Endpoint:
    """The endpoint, the file read once: 304 to a browser that holds the same bytes."""
    body = module_source()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL,
               "Access-Control-Allow-Origin": "*",
               "Cross-Origin-Resource-Policy": "cross-origin"}

    async def endpoint(request: Request) -> Response:
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=MEDIA_TYPE, headers=headers)

    return endpoint
