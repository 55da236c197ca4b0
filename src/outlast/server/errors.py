"""Errors become HTTP answers here, and only here.

Every ``OutlastError`` carries a stable ``code`` and an ``http_status``; this module turns
it into ``{"error": {"code", "message", "details"?}}`` so the HTTP client can map it back
to the same class. The database away for a moment (``store/faults.py``) is answered 503
``platform_unavailable`` with ``Retry-After``, so clients retry instead of reporting a
failure. Anything else is a bug: it is logged with its traceback and answered as a bare
500, because a traceback may hold payloads, SQL or secrets.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from outlast.errors import AuthError, OutlastError, PlatformUnavailableError
from outlast.store.faults import is_transient

log = logging.getLogger("outlast.server")

Endpoint = Callable[[Request], Awaitable[Response]]

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_json(code: str, message: str, status: int, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if extra:
        body["details"] = extra
    return JSONResponse({"error": body}, status_code=status)


def outlast_error_response(exc: OutlastError) -> JSONResponse:
    response = JSONResponse({"error": exc.to_dict()}, status_code=exc.http_status)
    if isinstance(exc, AuthError):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def internal_error_response(request: Request, exc: BaseException) -> JSONResponse:
    # the route's template, not the path: a token's callback path holds its secret
    route = request.scope.get("route")
    log.error("unhandled error in %s %s", request.method,
              getattr(route, "path", None) or "(no route)", exc_info=exc)
    return error_json("internal_error", "internal server error (details are in the server log)",
                      500)


def unavailable_response(exc: BaseException) -> JSONResponse:
    log.warning("the database is unavailable: %s", exc)
    response = outlast_error_response(PlatformUnavailableError(
        "the database is unavailable for a moment; try again shortly", retry_after=1.0))
    response.headers["Retry-After"] = "1"
    return response


def guarded(endpoint: Endpoint) -> Endpoint:
    """Wrap an endpoint so that no exception escapes it as anything but a JSON error."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        try:
            return await endpoint(request)
        except OutlastError as exc:
            return outlast_error_response(exc)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to read it; not a bug either
        except Exception as exc:
            if is_transient(exc):
                return unavailable_response(exc)
            return internal_error_response(request, exc)

    return wrapper


async def http_exception(request: Request, exc: Exception) -> Response:
    """Router misses (unknown path, wrong method): JSON under ``/api``, text elsewhere."""
    assert isinstance(exc, HTTPException)
    root = request.scope.get("root_path", "").rstrip("/")  # mounted under a prefix
    if not request.url.path.removeprefix(root).startswith("/api/"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, HTTPStatus(exc.status_code).phrase.lower()
                           .replace(" ", "_"))
    message = f"{request.method} {request.url.path}: {exc.detail}"
    response = error_json(code, message, exc.status_code)
    response.headers.update(exc.headers or {})
    return response


EXCEPTION_HANDLERS = {HTTPException: http_exception}
