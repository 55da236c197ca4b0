"""How a client reaches Outlast: over HTTP, or straight to the engine in this process."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

import httpx

from outlast.errors import OutlastError, ValidationError, error_from_body
from outlast.sdk.calls import Call


class Transport(Protocol):
    def send(self, call: Call) -> Any: ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, call: Call) -> Any: ...

    async def aclose(self) -> None: ...


def _answer(response: httpx.Response) -> Any:
    try:
        data = response.json()
    except json.JSONDecodeError:
        data = None
    if response.status_code >= 400:
        body = data.get("error") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            body = {"code": "http_error", "message": f"HTTP {response.status_code}: "
                    f"{response.text[:200]}"}
        raise error_from_body(body, response.status_code)
    return data


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


class HttpTransport:
    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self._http = httpx.Client(base_url=url.rstrip("/") + "/api/v1",
                                  headers=_headers(api_key), timeout=timeout)

    def send(self, call: Call) -> Any:
        return _answer(self._http.request(call.method, call.path, json=call.body,
                                          params=call.query))

    def close(self) -> None:
        self._http.close()


class AsyncHttpTransport:
    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(base_url=url.rstrip("/") + "/api/v1",
                                       headers=_headers(api_key), timeout=timeout)

    async def send(self, call: Call) -> Any:
        return _answer(await self._http.request(call.method, call.path, json=call.body,
                                                params=call.query))

    async def aclose(self) -> None:
        await self._http.aclose()


class LocalTransport:
    """Dispatches calls to the API handlers in this process (no HTTP, same checks)."""

    def __init__(self, engine: Any, environment: str, registry: Any = None) -> None:
        from outlast.server.api.routes import ApiContext

        self.engine = engine
        self.environment = environment
        self._ctx = ApiContext(engine=engine, registry=registry)

    def send(self, call: Call) -> Any:
        from outlast.server.api.routes import ApiRequest, match

        route, params = match(call.method, call.path)
        query = {k: [str(v)] for k, v in (call.query or {}).items()}
        body = _json_roundtrip(call.body)
        _, data = route.handler(self._ctx, ApiRequest(self.environment, params, query, body))
        return data

    def close(self) -> None:
        pass


class AsyncLocalTransport:
    """The local transport for asyncio code: each call runs in a worker thread."""

    def __init__(self, local: LocalTransport) -> None:
        self._local = local

    async def send(self, call: Call) -> Any:
        return await asyncio.to_thread(self._local.send, call)

    async def aclose(self) -> None:
        pass


def _json_roundtrip(body: Any) -> Any:
    """Make in-process calls see exactly what an HTTP server would (and fail the same way)."""
    if body is None:
        return None
    try:
        return json.loads(json.dumps(body, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"request is not JSON-serialisable: {exc}") from exc


__all__ = ["AsyncHttpTransport", "AsyncLocalTransport", "HttpTransport", "LocalTransport",
           "OutlastError", "Transport"]
