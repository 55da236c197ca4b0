"""Server-sent events that tell open dashboard pages when to refresh their live part.

    GET /runs/{run_id}/live   ``change`` whenever the run changes after event ``?after=``
                              (or ``Last-Event-ID``), or its trace moves past ``?mark=``
                              (a step recorded, a log line written); ``final`` once it
                              is final, then the stream ends
    GET /runs/live            ``change`` at most once a second while any run changes

The events carry no data the page shows: on each one the page asks htmx to fetch its
live fragment again, the same request its (slow, fallback) polling makes. They ride on
the API's ``Broadcaster`` (one database listener per server process) and answer only to
a dashboard session, with the same environment checks as the pages: no session is a
401, a run of another environment a 404.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from outlast.errors import NotFoundError, OutlastError
from outlast.server.dashboard.web import Dashboard, environment
from outlast.server.realtime import ANY_RUN, HEARTBEAT, Broadcaster, last_event_id, wait_woken

#: the runs list refreshes at most this often, however busy the environment
LIST_DEBOUNCE = 1.0
#: how often an open run page's stream looks whether the run's trace moved (seconds)
TRACE_POLL = 1.0
#: ``retry:`` sent to EventSource: how long a dropped connection waits to reconnect (ms)
RETRY_MS = 3000


class Live:
    """The dashboard's SSE endpoints over one broadcaster."""

    def __init__(self, dash: Dashboard, broadcaster: Broadcaster,
                 heartbeat: float = HEARTBEAT, debounce: float = LIST_DEBOUNCE,
                 trace_poll: float = TRACE_POLL) -> None:
        self.dash = dash
        self.broadcaster = broadcaster
        self.heartbeat = heartbeat
        self.debounce = debounce
        self.trace_poll = min(trace_poll, heartbeat)

    async def _env(self, request: Request) -> str | None:
        session = self.dash.signer.load(request)
        return await run_in_threadpool(environment, self.dash, session)

    async def run(self, request: Request) -> Response:
        env = await self._env(request)
        if env is None:
            return PlainTextResponse("Sign in to the dashboard first.", status_code=401)
        run_id = request.path_params["run_id"]
        try:
            after = last_event_id(request)
            await run_in_threadpool(self.dash.engine.retrieve, env, run_id)
        except OutlastError as exc:
            status = 404 if isinstance(exc, NotFoundError) else 400
            return PlainTextResponse(exc.message, status_code=status)
        mark = request.query_params.get("mark", "")[:200]
        return _streaming(self._run_events(env, run_id, after, mark))

    async def _run_events(self, env: str, run_id: str, after: int,
                          mark: str) -> AsyncIterator[str]:
        """``after`` and ``mark`` are where the run and its trace stood when the page was
        rendered: a change made between the render and this subscription still refreshes
        the page. Status changes wake the stream; a step or a log line appends no run
        event, so the trace's mark is also read every ``trace_poll`` seconds."""
        yield f"retry: {RETRY_MS}\n\n"
        with self.broadcaster.subscription(run_id) as woken:  # before the first read
            cursor, fresh, quiet = after, True, 0.0
            while True:
                try:
                    changed, cursor, final = await self._run_changed(env, run_id, cursor,
                                                                     fresh)
                    changed, mark = await self._trace_moved(run_id, mark, changed)
                except NotFoundError:
                    return
                if changed:
                    yield f"id: {cursor}\nevent: change\ndata: {{}}\n\n"
                if final:
                    yield "event: final\ndata: {}\n\n"
                    return
                fresh = await wait_woken(woken, self.trace_poll)
                quiet = 0.0 if fresh else quiet + self.trace_poll
                if quiet >= self.heartbeat:
                    quiet = 0.0
                    yield ": heartbeat\n\n"

    async def _run_changed(self, env: str, run_id: str, cursor: int,
                           fresh: bool) -> tuple[bool, int, bool]:
        """Whether the run has events after ``cursor`` (read only when woken)."""
        if not fresh:
            return False, cursor, False
        snapshot, cursor, final = await self.broadcaster.shared(
            ("run", env, run_id, cursor), self.dash.engine.realtime.run_changes, env,
            run_id, cursor)
        return snapshot is not None, cursor, final

    async def _trace_moved(self, run_id: str, mark: str, changed: bool) -> tuple[bool, str]:
        """Whether the trace moved past ``mark`` (no mark given: only what ``changed``)."""
        now = await self.broadcaster.shared(("trace", run_id),
                                            self.dash.engine.realtime.trace_mark, run_id)
        return changed or (bool(mark) and now != mark), now

    async def runs(self, request: Request) -> Response:
        env = await self._env(request)
        if env is None:
            return PlainTextResponse("Sign in to the dashboard first.", status_code=401)
        return _streaming(self._list_events(env))

    async def _list_events(self, env: str) -> AsyncIterator[str]:
        """A ``change`` when a run of ``env`` changed, at most one per ``debounce``.

        The broadcaster wakes on a change to any run of any environment (and, on SQLite,
        on any commit); one read shared by the environment's open lists tells whether one
        of its runs has a new event, so other environments' work refreshes nothing.
        """
        realtime = self.dash.engine.realtime
        yield f"retry: {RETRY_MS}\n\n"
        with self.broadcaster.subscription(ANY_RUN) as woken:
            cursor = await run_in_threadpool(realtime.newest_event)
            while True:
                if not await wait_woken(woken, self.heartbeat):
                    yield ": heartbeat\n\n"
                    continue
                newest = await self.broadcaster.shared(("env", env, cursor),
                                                       realtime.env_changes, env, cursor)
                if newest > cursor:
                    cursor = newest
                    yield "event: change\ndata: {}\n\n"
                    # changes meanwhile set ``woken`` again: they make one more event
                    await asyncio.sleep(self.debounce)


def _streaming(body: AsyncIterator[str]) -> Response:
    return StreamingResponse(body, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
