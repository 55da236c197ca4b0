"""Following runs from a client: ``runs.subscribe`` and ``runs.stream``.

Over HTTP these read the server-sent events of ``/runs/{id}/subscribe``,
``/runs/subscribe?tag=`` and ``/runs/{id}/streams/{key}``; when the connection drops
they reconnect with ``Last-Event-ID`` (up to ``RECONNECTS`` times in a row, backing
off), so a subscriber sees every change once and a stream reader every chunk once. A
client bound straight to a database (``Client(database_url=...)``) polls the same feeds
in process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from outlast.core.backoff import backoff
from outlast.errors import ConfigError
from outlast.sdk.calls import Call, _seg
from outlast.sdk.handles import Run

if TYPE_CHECKING:  # an HTTP stream comes from an HTTP transport, which has loaded it
    import httpx

RECONNECTS = 8
BACKOFF = 0.25
MAX_BACKOFF = 5.0
#: no byte for this long (heartbeats come every 15 s) means the connection is dead
READ_TIMEOUT = 45.0
LOCAL_POLL = 0.1


@dataclass(frozen=True)
class ServerEvent:
    id: int | None
    event: str
    data: str


def parse(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """Server-sent events from text lines (comments are skipped)."""
    event_id: int | None = None
    kind, data = "message", list[str]()
    for line in lines:
        if not line:
            if data:
                yield ServerEvent(event_id, kind, "\n".join(data))
            event_id, kind, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id" and value.isdigit():
            event_id = int(value)
        elif field == "event":
            kind = value
        elif field == "data":
            data.append(value)


def reconnect_delay(failures: int) -> float:
    """Seconds before reconnecting after ``failures`` failed connections in a row."""
    return backoff(failures, first=BACKOFF, most=MAX_BACKOFF, jitter=(0.5, 1.5))


def _raise_for(response: httpx.Response) -> None:
    from outlast.sdk.transports import _answer

    _answer(response)


def _timeout() -> httpx.Timeout:
    import httpx

    return httpx.Timeout(10.0, read=READ_TIMEOUT)


def http_events(http: httpx.Client, call: Call) -> Iterator[ServerEvent]:
    """The events of ``call``, reconnecting with ``Last-Event-ID`` when the line drops."""
    import httpx

    last: int | None = None
    failures = 0
    while True:
        headers = {} if last is None else {"Last-Event-ID": str(last)}
        try:
            with http.stream("GET", call.path, params=call.query, headers=headers,
                             timeout=_timeout()) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for(response)
                for event in parse(response.iter_lines()):
                    failures = 0
                    last = event.id if event.id is not None else last
                    yield event
            # the server closed the stream early (a restart): the caller decides when
            # it has seen the end, so reconnect
            failures += 1
            if failures > RECONNECTS:
                return
        except httpx.TransportError:
            failures += 1
            if failures > RECONNECTS:
                raise
        time.sleep(reconnect_delay(failures))


async def ahttp_events(http: httpx.AsyncClient, call: Call) -> AsyncIterator[ServerEvent]:
    import httpx

    last: int | None = None
    failures = 0
    while True:
        headers = {} if last is None else {"Last-Event-ID": str(last)}
        try:
            async with http.stream("GET", call.path, params=call.query, headers=headers,
                                   timeout=_timeout()) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for(response)
                async for event in _aparse(response.aiter_lines()):
                    failures = 0
                    last = event.id if event.id is not None else last
                    yield event
            failures += 1
            if failures > RECONNECTS:
                return
        except httpx.TransportError:
            failures += 1
            if failures > RECONNECTS:
                raise
        await asyncio.sleep(reconnect_delay(failures))


async def _aparse(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    pending: list[str] = []
    async for line in lines:
        pending.append(line)
        if not line:
            for event in parse(pending):
                yield event
            pending = []


# -- calls ---------------------------------------------------------------------------------


def subscribe_call(run_id: str | None, tag: str | None) -> Call:
    if (run_id is None) == (tag is None):
        raise ConfigError("subscribe to one run (run_id) or to a tag (tag=...), not both")
    if run_id is not None:
        return Call("GET", f"/runs/{_seg(run_id)}/subscribe")
    return Call("GET", "/runs/subscribe", query={"tag": tag})


def public_token_call(run_id: str | None, tag: str | None, ttl: Any) -> Call:
    if (run_id is None) == (tag is None):
        raise ConfigError("a public token is for one run (run_id=) or one tag (tag=)")
    scope = {"run_id": run_id} if run_id is not None else {"tag": tag}
    body: dict[str, Any] = {"scope": scope}
    if ttl is not None:
        body["ttl"] = ttl.total_seconds() if hasattr(ttl, "total_seconds") else ttl
    return Call("POST", "/auth/public-tokens", body)


def stream_call(run_id: str, key: str) -> Call:
    return Call("GET", f"/runs/{_seg(run_id)}/streams/{_seg(key)}")


def runs_of(events: Iterator[ServerEvent], until_final: bool) -> Iterator[Run]:
    """Run snapshots; with ``until_final`` the last one is the run's final state."""
    try:
        for event in events:
            if event.event == "run":
                run = Run.from_record(json.loads(event.data))
                yield run
                if until_final and run.is_final:
                    return
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def chunks_of(events: Iterator[ServerEvent]) -> Iterator[Any]:
    try:
        for event in events:
            if event.event == "end":
                return
            if event.event == "chunk":
                yield json.loads(event.data)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def aruns_of(events: AsyncIterator[ServerEvent], until_final: bool) -> AsyncIterator[Run]:
    try:
        async for event in events:
            if event.event == "run":
                run = Run.from_record(json.loads(event.data))
                yield run
                if until_final and run.is_final:
                    return
    finally:
        await _aclose(events)


async def achunks_of(events: AsyncIterator[ServerEvent]) -> AsyncIterator[Any]:
    try:
        async for event in events:
            if event.event == "end":
                return
            if event.event == "chunk":
                yield json.loads(event.data)
    finally:
        await _aclose(events)


async def _aclose(events: AsyncIterator[ServerEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        await aclose()


# -- in process ------------------------------------------------------------------------------


class LocalFeeds(Protocol):
    """The realtime feeds of the in-process API (``outlast.api.local.LocalApi``)."""

    def run_changes(self, env: str, run_id: str,
                    after: int) -> tuple[dict[str, Any] | None, int, bool]: ...

    def tag_changes(self, env: str, tag: str,
                    after: int) -> list[tuple[int, dict[str, Any]]]: ...

    def chunks(self, env: str, run_id: str, key: str,
               after: int) -> tuple[list[tuple[int, str]], bool]: ...


def local_runs(feeds: LocalFeeds, env: str, run_id: str | None,
               tag: str | None) -> Iterator[Run]:
    """``subscribe`` for a client bound to a database: poll the API's feeds."""
    subscribe_call(run_id, tag)  # same argument checks
    if run_id is not None:
        return _local_run(feeds, env, run_id)
    assert tag is not None
    return _local_tag(feeds, env, tag)


def _local_run(feeds: LocalFeeds, env: str, run_id: str) -> Iterator[Run]:
    cursor = 0
    while True:
        snapshot, cursor, final = feeds.run_changes(env, run_id, cursor)
        if snapshot is not None:
            yield Run.from_record(snapshot)
        if final:
            return
        time.sleep(LOCAL_POLL)


def _local_tag(feeds: LocalFeeds, env: str, tag: str) -> Iterator[Run]:
    cursor = 0
    while True:
        changes = feeds.tag_changes(env, tag, cursor)
        cursor = changes[-1][0] if changes else cursor
        yield from (Run.from_record(snapshot) for _, snapshot in changes)
        time.sleep(LOCAL_POLL)


def local_chunks(feeds: LocalFeeds, env: str, run_id: str, key: str) -> Iterator[Any]:
    after = 0
    while True:
        items, done = feeds.chunks(env, run_id, key, after)
        after = items[-1][0] if items else after
        yield from (json.loads(text) for _, text in items)
        if done:
            return
        if not items:
            time.sleep(LOCAL_POLL)


# -- by transport --------------------------------------------------------------------------


def subscribe(transport: Any, run_id: str | None, tag: str | None) -> Iterator[Run]:
    from outlast.sdk.transports import HttpTransport, LocalTransport

    call = subscribe_call(run_id, tag)
    if isinstance(transport, HttpTransport):
        return runs_of(http_events(transport.http, call), until_final=run_id is not None)
    if isinstance(transport, LocalTransport):
        return local_runs(transport.api, transport.environment, run_id, tag)
    raise ConfigError("runs.subscribe needs a client with a server URL or a database URL")


def stream(transport: Any, run_id: str, key: str) -> Iterator[Any]:
    from outlast.sdk.transports import HttpTransport, LocalTransport

    call = stream_call(run_id, key)
    if isinstance(transport, HttpTransport):
        return chunks_of(http_events(transport.http, call))
    if isinstance(transport, LocalTransport):
        return local_chunks(transport.api, transport.environment, run_id, key)
    raise ConfigError("runs.stream needs a client with a server URL or a database URL")


def asubscribe(transport: Any, run_id: str | None, tag: str | None) -> AsyncIterator[Run]:
    from outlast.sdk.transports import AsyncHttpTransport, AsyncLocalTransport

    call = subscribe_call(run_id, tag)
    if isinstance(transport, AsyncHttpTransport):
        return aruns_of(ahttp_events(transport.http, call), until_final=run_id is not None)
    if isinstance(transport, AsyncLocalTransport):
        local = transport.local
        return _in_thread(local_runs(local.api, local.environment, run_id, tag))
    raise ConfigError("runs.subscribe needs a client with a server URL or a database URL")


def astream(transport: Any, run_id: str, key: str) -> AsyncIterator[Any]:
    from outlast.sdk.transports import AsyncHttpTransport, AsyncLocalTransport

    call = stream_call(run_id, key)
    if isinstance(transport, AsyncHttpTransport):
        return achunks_of(ahttp_events(transport.http, call))
    if isinstance(transport, AsyncLocalTransport):
        local = transport.local
        return _in_thread(local_chunks(local.api, local.environment, run_id, key))
    raise ConfigError("runs.stream needs a client with a server URL or a database URL")


_DONE = object()


async def _in_thread(items: Iterator[Any]) -> AsyncIterator[Any]:
    """A blocking iterator walked in worker threads, for asyncio code."""
    try:
        while True:
            item = await asyncio.to_thread(next, items, _DONE)
            if item is _DONE:
                return
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
