"""How a client reaches Outlast: over HTTP, or straight to the engine in this process."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from outlast.core.backoff import backoff
from outlast.errors import ConfigError, OutlastError, PlatformUnavailableError, error_from_body
from outlast.observability import TRACEPARENT_HEADER, current_traceparent
from outlast.sdk.calls import Call, options_json, plain_segment
from outlast.sdk.calls import batch_trigger as batch_call
from outlast.sdk.calls import trigger as trigger_call

if TYPE_CHECKING:  # loaded by the first HTTP transport: a worker's children make none
    import httpx


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


def _call_headers(call: Call) -> dict[str, str] | None:
    """A trigger's trace context, as the W3C header the server reads."""
    return {TRACEPARENT_HEADER: call.traceparent} if call.traceparent else None


#: how often an idempotent request is retried after a connection error
RETRIES = 4
#: where the HTTP API lives under a server's URL (which may have a path prefix itself)
API_PATH = "/api/v1"
RETRY_BACKOFF = 0.2
#: how long an automatic trigger idempotency key holds (retries happen within seconds)
AUTO_KEY_TTL = 3600


def with_retry_key(call: Call) -> Call:
    """A trigger without an idempotency key gets one, so that resending it after a lost
    answer finds the run the first request created instead of starting a second one.
    A debounced trigger gets none: the server refuses the two together, and sent again
    it joins the run the first one made or joined anyway."""
    if call.method != "POST" or not call.path.endswith("/trigger"):
        return call
    if not isinstance(call.body, dict) or not isinstance(call.body.get("options"), dict):
        return call
    options = call.body["options"]
    if options.get("idempotency_key") or options.get("debounce") is not None:
        return call
    options = {**options, "idempotency_key": f"auto-{uuid.uuid4().hex}",
               "idempotency_key_ttl": AUTO_KEY_TTL}
    return replace(call, body={**call.body, "options": options})


def retryable(call: Call) -> bool:
    """GETs, and triggers that carry an idempotency key: sending twice does no harm."""
    if call.method == "GET":
        return True
    options = call.body.get("options") if isinstance(call.body, dict) else None
    return (call.method == "POST" and call.path.endswith("/trigger")
            and isinstance(options, dict) and bool(options.get("idempotency_key")))


def retry_delay(attempt: int) -> float:
    """Seconds before resending after try ``attempt`` (0-based) met a connection error."""
    return backoff(attempt + 1, first=RETRY_BACKOFF, jitter=(0.5, 1.5))


class HttpTransport:
    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0,
                 retries: int = RETRIES) -> None:
        import httpx

        self._http = httpx.Client(base_url=url.rstrip("/") + API_PATH,
                                  headers=_headers(api_key), timeout=timeout)
        #: kept to build the asyncio twin (``async_twin``) with the same settings
        self.url, self.timeout = url, timeout
        self.retries = retries
        #: names the environment of triggers written with ``connection=``
        self.api_key = api_key

    @property
    def http(self) -> httpx.Client:
        return self._http

    def send(self, call: Call) -> Any:
        import httpx

        call = with_retry_key(call) if self.retries else call
        attempts = self.retries + 1 if retryable(call) else 1
        for attempt in range(attempts):
            try:
                return _answer(self._http.request(call.method, call.path, json=call.body,
                                                  params=call.query,
                                                  headers=_call_headers(call)))
            except (httpx.TransportError, PlatformUnavailableError):
                if attempt + 1 >= attempts:
                    raise
                time.sleep(retry_delay(attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()


class AsyncHttpTransport:
    def __init__(self, url: str, api_key: str | None, timeout: float = 30.0,
                 retries: int = RETRIES) -> None:
        import httpx

        self._http = httpx.AsyncClient(base_url=url.rstrip("/") + API_PATH,
                                       headers=_headers(api_key), timeout=timeout)
        #: kept to build the blocking twin (``sync_twin``) with the same settings
        self.url, self.timeout = url, timeout
        self.retries = retries
        #: names the environment of triggers written with ``connection=``
        self.api_key = api_key

    @property
    def http(self) -> httpx.AsyncClient:
        return self._http

    async def send(self, call: Call) -> Any:
        import httpx

        call = with_retry_key(call) if self.retries else call
        attempts = self.retries + 1 if retryable(call) else 1
        for attempt in range(attempts):
            try:
                return _answer(await self._http.request(call.method, call.path,
                                                        json=call.body, params=call.query,
                                                        headers=_call_headers(call)))
            except (httpx.TransportError, PlatformUnavailableError):
                if attempt + 1 >= attempts:
                    raise
                await asyncio.sleep(retry_delay(attempt))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()


class LocalTransport:
    """Dispatches calls to the API handlers in this process (no HTTP, same checks).

    The engine is handed to ``outlast.api.local.LocalApi`` and never touched here: the SDK
    reaches it through that API object only, as it reaches a server through HTTP. With
    ``owns_engine`` (a client given a database URL opened it) ``close()`` closes it.
    """

    def __init__(self, engine: Any, environment: str, registry: Any = None, *,
                 owns_engine: bool = False) -> None:
        from outlast.api.local import LocalApi  # it imports the engine: loaded late

        self.environment = environment
        self._api = LocalApi(engine, registry, owns_engine=owns_engine)

    @property
    def api(self) -> Any:
        """The in-process API (``outlast.api.local.LocalApi``): calls and realtime feeds."""
        return self._api

    def send(self, call: Call) -> Any:
        return self._api.handle(self.environment, call.method, call.path, call.query, call.body,
                                traceparent=call.traceparent)

    def trigger(self, task_id: str, payload: Any, options: Mapping[str, Any] | None) -> Any:
        """``send(calls.trigger(task_id, payload, options))``: the same checks and answer.
        A task id that is its own path segment (most) is handed to the trigger's handler
        as routing would hand it, with no ``Call`` made and no path matched."""
        if not plain_segment(task_id):
            return self.send(trigger_call(task_id, payload, options))
        return self._api.trigger(self.environment, task_id,
                                 {"payload": payload, "options": options_json(options)},
                                 traceparent=current_traceparent())

    def batch_trigger(self, task_id: str, items: list[dict[str, Any]],
                      shape: Callable[[Any], Any]) -> Any:
        """``shape(send(calls.batch_trigger(task_id, items)))``, as ``trigger`` takes its
        call: the handler makes ``shape``'s result itself, as early as it can (a bulk
        batch's, while the database inserts its runs)."""
        if not plain_segment(task_id):
            return shape(self.send(batch_call(task_id, items)))
        return self._api.batch_trigger(self.environment, task_id, {"items": items}, shape,
                                       traceparent=current_traceparent())

    def close(self) -> None:
        self._api.close()


class AsyncLocalTransport:
    """The local transport for asyncio code: each call runs in a worker thread.

    ``owns_local=False`` (a twin sharing a blocking client's transport): ``aclose()``
    leaves the shared one open for the client that still uses it."""

    def __init__(self, local: LocalTransport, *, owns_local: bool = True) -> None:
        self._local = local
        self._owns_local = owns_local

    @property
    def local(self) -> LocalTransport:
        return self._local

    async def send(self, call: Call) -> Any:
        return await asyncio.to_thread(self._local.send, call)

    async def trigger(self, task_id: str, payload: Any,
                      options: Mapping[str, Any] | None) -> Any:
        """``LocalTransport.trigger`` in a worker thread (which runs in a copy of this
        context: the trace context the run joins is the caller's)."""
        return await asyncio.to_thread(self._local.trigger, task_id, payload, options)

    async def aclose(self) -> None:
        if self._owns_local:
            await asyncio.to_thread(self._local.close)


class ThreadedTransport:
    """Any blocking transport for asyncio code (a worker's, one of your own): each call
    runs in a thread. It closes nothing: the blocking transport has its own owner."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, call: Call) -> Any:
        return await asyncio.to_thread(self.inner.send, call)

    async def aclose(self) -> None:
        pass


def async_twin(transport: Transport) -> AsyncTransport:
    """An asyncio transport reaching the same place as ``transport``: a new HTTP client
    with the same URL, key, timeout and retries (an httpx client belongs to one event
    loop), or the same in-process API, called from a thread."""
    if isinstance(transport, HttpTransport):
        return AsyncHttpTransport(transport.url, transport.api_key, transport.timeout,
                                  transport.retries)
    if isinstance(transport, LocalTransport):
        return AsyncLocalTransport(transport, owns_local=False)
    return ThreadedTransport(transport)


def sync_twin(transport: AsyncTransport) -> Transport:
    """The blocking transport reaching the same place as ``transport``."""
    if isinstance(transport, AsyncHttpTransport):
        return HttpTransport(transport.url, transport.api_key, transport.timeout,
                             transport.retries)
    if isinstance(transport, AsyncLocalTransport):
        return transport.local
    if isinstance(transport, ThreadedTransport):
        return transport.inner
    raise ConfigError(
        f"cannot derive a blocking client from an AsyncClient over {type(transport).__name__}:"
        " pass configure(client=..., async_client=...)")


__all__ = ["AsyncHttpTransport", "AsyncLocalTransport", "HttpTransport", "LocalTransport",
           "OutlastError", "ThreadedTransport", "Transport", "async_twin", "sync_twin"]
