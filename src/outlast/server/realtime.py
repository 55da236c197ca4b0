"""Realtime over server-sent events: run snapshots, runs by tag, and run streams.

    GET /api/v1/runs/{run_id}/subscribe      a snapshot on every change, until final
    GET /api/v1/runs/subscribe?tag=T         snapshots of runs tagged T (never ends)
    GET /api/v1/runs/{run_id}/streams/{key}  a stream's chunks from the first, until the
                                             run is final and every chunk is sent

Event ids are run event ids (snapshots) or chunk sequence numbers (streams), so a client
that reconnects with ``Last-Event-ID`` continues where it stopped. A comment line goes
out every 15 seconds so proxies keep idle connections open.

One ``Broadcaster`` per server process holds the only database listener: on PostgreSQL
a LISTEN connection, which hears every server's and worker's commits; on SQLite a pipe
for this process's commits plus a short poll of ``PRAGMA data_version`` for others'.
Each subscriber waits on an asyncio event it gets from the broadcaster and, once woken,
reads what changed after its cursor. Reads run in the thread pool (the store is
synchronous); the event loop only waits and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from outlast import inputs
from outlast.api import public_tokens
from outlast.api.public_tokens import Scope
from outlast.core.key_scopes import READ
from outlast.engine import Engine
from outlast.engine.events import CHANGED_CHANNEL, changed_ids
from outlast.engine.project_keys import server_keys
from outlast.engine.realtime import STREAM_CHANNEL, check_stream_key
from outlast.errors import AuthError, ValidationError
from outlast.jsonutil import dumps
from outlast.readiness import readable
from outlast.server.auth import Authenticator, bearer_key
from outlast.server.errors import guarded
from outlast.store.protocol import ANY_CHANNEL

log = logging.getLogger("outlast.server.realtime")

HEARTBEAT = 15.0
#: SQLite: how often other processes' commits are looked for
SQLITE_POLL = 0.1
#: the subscription key woken by a change to any run
ANY_RUN = "*"
_ANY = ANY_RUN


class Broadcaster:
    """Fans database notifications out to this process's subscribers."""

    def __init__(self, engine: Engine, poll: float = SQLITE_POLL) -> None:
        self._engine = engine
        self._poll = poll
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        #: bumped on every wake-up: reads started after it may be shared (see ``shared``)
        self.generation = 0
        self._inflight: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def shared(self, key: tuple[Any, ...], fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in the thread pool, once for every subscriber asking the same
        question since the same wake-up: a thousand subscribers of one run cost one read.

        The generation in the key makes sure a read started before a change is never
        handed to a subscriber woken by that change.
        """
        full = (*key, self.generation)
        future = self._inflight.get(full)
        if future is None:
            future = asyncio.ensure_future(run_in_threadpool(fn, *args))
            self._inflight[full] = future
            future.add_done_callback(lambda _: self._inflight.pop(full, None))
        return await asyncio.shield(future)

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            # a listener still running wakes this loop from now on (an app served again
            # on a new loop); one that decided to stop has said so here (``_still_wanted``)
            self._loop = loop
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._listen, name="outlast-realtime",
                                            daemon=True)
            self._thread.start()

    @contextlib.contextmanager
    def subscription(self, key: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``key`` (a run id, or ``"*"`` for any run) changes.

        It is also set once the listener is up (and after every reconnect), since changes
        committed before that wake nobody: a subscriber that reads after subscribing and
        again whenever woken misses no change committed after it subscribed.
        """
        self._ensure_started()
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[key]

    @property
    def subscribers(self) -> int:
        return sum(len(w) for w in self._waiters.values())

    def _wake(self, run_ids: set[str] | None) -> None:
        """On the event loop: set the events of ``run_ids`` (None: everyone's)."""
        self.generation += 1
        if run_ids is None:
            groups = list(self._waiters.values())
        else:
            groups = [self._waiters.get(r, set()) for r in (*run_ids, _ANY)]
        for group in groups:
            for event in group:
                event.set()

    def _listen(self) -> None:
        while self._still_wanted():
            try:
                self._listen_once()
            except Exception as exc:
                if self._wanted():  # not, e.g., a test's database dropped after its loop closed
                    log.warning("realtime listener failed (%s); reconnecting", exc)
                    self._stop.wait(1.0)

    def _still_wanted(self) -> bool:
        """``_wanted``, decided under the lock ``_ensure_started`` holds: a listener that
        stops says so there, so a subscriber arriving meanwhile starts a new one, and one
        that arrived first keeps this one listening for its loop."""
        with self._lock:
            if self._wanted():
                return True
            if self._thread is threading.current_thread():
                self._thread = None
            return False

    def _wanted(self) -> bool:
        """Listen on while not closed and the event loop it wakes is still there: an app
        served and stopped without its shutdown (a test client used without ``with``)
        leaves no thread listening behind; the next subscriber starts one again."""
        loop = self._loop
        return not self._stop.is_set() and loop is not None and not loop.is_closed()

    def _listen_once(self) -> None:
        listener = self._engine.store.listen([CHANGED_CHANNEL, STREAM_CHANNEL])
        # nobody heard what was committed before the listener was up (this thread starts
        # as the first subscriber reads; a reconnect leaves a gap): everyone re-reads
        self._wake_from_thread(None)
        # commits no wake-up announced (SQLite: a lost datagram) are found by looking at
        # ``changed()`` now and then; they wake every subscriber, who re-read
        recheck = max(listener.recheck_every, self._poll)
        checked = time.monotonic()
        try:
            while self._wanted():
                readable(listener.fileno(), self._poll)
                notes = listener.drain()
                run_ids = {run_id for channel, payload in notes
                           if channel in (CHANGED_CHANNEL, STREAM_CHANNEL)
                           for run_id in changed_ids(payload)}
                if any(channel == ANY_CHANNEL for channel, _ in notes):
                    self._wake_from_thread(None)  # some were lost: everyone re-reads
                elif run_ids:
                    self._wake_from_thread(run_ids)
                if time.monotonic() - checked >= recheck:
                    checked = time.monotonic()
                    if listener.changed():
                        self._wake_from_thread(None)
        finally:
            listener.close()

    def _wake_from_thread(self, run_ids: set[str] | None) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._wake, run_ids)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


# -- access ------------------------------------------------------------------------------


class Access:
    """Who reads: an API key's environment, or a public token's scope."""

    def __init__(self, auth: Authenticator, engine: Engine) -> None:
        self._auth = auth
        self._engine = engine

    async def check(self, request: Request) -> tuple[str, Scope | None]:
        header = request.headers.get("authorization")
        # EventSource in browsers cannot send headers: a token may come as ?access_token=
        query_token = request.query_params.get("access_token")
        if not header and query_token:
            header = f"Bearer {query_token}"
        credential = bearer_key(header)
        if public_tokens.is_public_token(credential):
            keys = await run_in_threadpool(server_keys, self._engine)
            scope = public_tokens.verify(keys, credential, self._engine.clock.now())
            return scope.environment, scope
        env = await run_in_threadpool(self._auth.environment, header, READ,
                                      "a realtime subscription")
        return env, None

    async def run_allowed(self, env: str, scope: Scope | None, run_id: str) -> None:
        run = await run_in_threadpool(self._engine.retrieve, env, run_id)  # 404 if not there
        if scope is not None and not scope.allows_run(run_id, run["tags"]):
            raise public_tokens.forbidden(f"reading run {run_id}")


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise ValidationError(f"Last-Event-ID must be a non-negative integer, got {raw!r}")
    return int(raw)


def sse(event_id: int, kind: str, data: Any) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {dumps(data)}\n\n"


def _streaming(body: AsyncIterator[str]) -> Response:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def wait_woken(event: asyncio.Event, timeout: float) -> bool:
    """True when woken, False after ``timeout`` (time for a heartbeat)."""
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        return False
    event.clear()
    return True


# -- endpoints ---------------------------------------------------------------------------


class Realtime:
    """The SSE endpoints of one app."""

    def __init__(self, engine: Engine, auth: Authenticator,
                 heartbeat: float = HEARTBEAT) -> None:
        self.engine = engine
        self.access = Access(auth, engine)
        self.broadcaster = Broadcaster(engine)
        self.heartbeat = heartbeat

    def routes(self, prefix: str) -> list[Route]:
        return [
            Route(prefix + "/runs/subscribe", guarded(self.subscribe_tag), methods=["GET"]),
            Route(prefix + "/runs/{run_id}/subscribe", guarded(self.subscribe_run),
                  methods=["GET"]),
            Route(prefix + "/runs/{run_id}/streams/{key}", guarded(self.stream),
                  methods=["GET"]),
        ]

    async def subscribe_run(self, request: Request) -> Response:
        env, scope = await self.access.check(request)
        run_id = inputs.text(request.path_params["run_id"], "run_id")
        await self.access.run_allowed(env, scope, run_id)
        return _streaming(self._run_events(env, run_id, last_event_id(request)))

    async def _run_events(self, env: str, run_id: str, after: int) -> AsyncIterator[str]:
        realtime = self.engine.realtime
        with self.broadcaster.subscription(run_id) as woken:  # before the first read
            cursor, fresh = after, True
            while True:
                if fresh:
                    snapshot, cursor, final = await self.broadcaster.shared(
                        ("run", env, run_id, cursor), realtime.run_changes, env, run_id,
                        cursor)
                    if snapshot is not None:
                        yield sse(cursor, "run", snapshot)
                    if final:
                        return
                fresh = await wait_woken(woken, self.heartbeat)
                if not fresh:
                    yield ": heartbeat\n\n"

    async def subscribe_tag(self, request: Request) -> Response:
        env, scope = await self.access.check(request)
        tag = request.query_params.get("tag")
        if not tag:
            raise ValidationError("subscribe to runs by tag with ?tag=...")
        inputs.text(tag, "tag")
        if scope is not None and scope.tag != tag:
            raise public_tokens.forbidden(f"runs tagged {tag!r}")
        return _streaming(self._tag_events(env, tag, last_event_id(request)))

    async def _tag_events(self, env: str, tag: str, after: int) -> AsyncIterator[str]:
        with self.broadcaster.subscription(_ANY) as woken:
            cursor, fresh = after, True
            while True:
                if fresh:
                    changes = await run_in_threadpool(self.engine.realtime.tag_changes, env,
                                                      tag, cursor)
                    if changes:
                        cursor = max(cursor, changes[-1][0])
                        yield "".join(sse(event_id, "run", run) for event_id, run in changes)
                fresh = await wait_woken(woken, self.heartbeat)
                if not fresh:
                    yield ": heartbeat\n\n"

    async def stream(self, request: Request) -> Response:
        env, scope = await self.access.check(request)
        run_id, key = request.path_params["run_id"], request.path_params["key"]
        inputs.text(run_id, "run_id")
        check_stream_key(inputs.text(key, "key"))
        await self.access.run_allowed(env, scope, run_id)
        return _streaming(self._chunks(env, run_id, key, last_event_id(request)))

    async def _chunks(self, env: str, run_id: str, key: str, after: int) -> AsyncIterator[str]:
        with self.broadcaster.subscription(run_id) as woken:
            fresh = True
            while True:
                if fresh:
                    page = await self.broadcaster.shared(
                        ("chunks", env, run_id, key, after), self.engine.realtime.chunks, env,
                        run_id, key, after)
                    if page.items:
                        after = page.items[-1][0]
                        yield "".join(f"id: {seq}\nevent: chunk\ndata: {text}\n\n"
                                      for seq, text in page.items)
                    if page.done:
                        yield f"id: {after}\nevent: end\ndata: {{}}\n\n"
                        return
                    if len(page.items) >= 1000:
                        continue  # more is waiting: no need to be woken
                fresh = await wait_woken(woken, self.heartbeat)
                if not fresh:
                    yield ": heartbeat\n\n"

    def close(self) -> None:
        self.broadcaster.close()


_SSE_RESPONSES = {
    "200": {"description": "Server-sent events", "content": {"text/event-stream": {}}},
    "default": {"description": "Error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}},
}


def document(spec: dict[str, Any], prefix: str) -> None:
    """Add the SSE endpoints to the OpenAPI document."""
    last = {"name": "Last-Event-ID", "in": "header", "required": False,
            "schema": {"type": "string"}}
    path = {"in": "path", "required": True, "schema": {"type": "string"}}
    ops = {
        "/runs/subscribe": ("realtime.subscribe_tag", "Follow runs with a tag (SSE)",
                            [{"name": "tag", "in": "query", "required": True,
                              "schema": {"type": "string"}}]),
        "/runs/{run_id}/subscribe": ("realtime.subscribe_run",
                                     "Follow a run: a snapshot on every change (SSE)",
                                     [{"name": "run_id", **path}]),
        "/runs/{run_id}/streams/{key}": ("realtime.stream", "Read a run's stream (SSE)",
                                         [{"name": "run_id", **path}, {"name": "key", **path}]),
    }
    for sub, (operation_id, summary, params) in ops.items():
        spec["paths"][prefix + sub] = {"get": {
            "operationId": operation_id, "summary": summary, "tags": ["realtime"],
            "parameters": [*params, last], "responses": _SSE_RESPONSES,
            "security": [{"bearerAuth": []}, {"publicToken": []}],
            "x-outlast-key-scope": READ,
        }}
    spec["components"]["securitySchemes"]["publicToken"] = {
        "type": "apiKey", "in": "query", "name": "access_token",
        "description": "A public token from POST /api/v1/auth/public-tokens"}


__all__ = ["AuthError", "Broadcaster", "Realtime", "document"]
