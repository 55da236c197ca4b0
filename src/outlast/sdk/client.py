"""``Client`` and ``AsyncClient``: every call of the API, sync and async, over one core.

A client talks over HTTP (``Client(url=..., api_key=...)``) or straight to a database
(``Client(database_url=..., environment=...)``, for scripts and benchmarks in the same
network as the database). Module-level functions (``tasks.trigger``, ``runs.retrieve``)
use ``default_client()``: the one given to ``configure``, else the worker's own when
called inside a task, else one configured from ``OUTLAST_API_URL``/``OUTLAST_API_KEY``,
else from ``.outlast/dev.env`` written by ``outlast dev``, else from
``OUTLAST_DATABASE_URL``. Their asyncio twins (``trigger_async``, ``runs.*_async``) use
``default_async_client()``, which reaches the same place.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from typing_extensions import Unpack

from outlast.core.params import (
    BatchItem,
    MetadataOperation,
    RunFilters,
    TaskBatchItem,
    TokenFilters,
    TriggerParams,
)
from outlast.core.records import (
    AttemptRecord,
    JournalEntry,
    LogLine,
    RunEvent,
    TaskRecord,
    Token,
    TraceJson,
)
from outlast.errors import ConfigError
from outlast.sdk import calls, in_transaction, realtime
from outlast.sdk.bulk_client import AsyncBulkActions, BulkActions
from outlast.sdk.handles import AsyncRunHandle, BatchHandle, Run, RunHandle
from outlast.sdk.queue_client import AsyncQueues, Queues
from outlast.sdk.schedule_client import AsyncSchedules, Schedules
from outlast.sdk.transports import (
    AsyncHttpTransport,
    AsyncLocalTransport,
    AsyncTransport,
    HttpTransport,
    LocalTransport,
    Transport,
    async_twin,
    sync_twin,
)
from outlast.sdk.version_client import AsyncVersions, Versions


def _handle(data: dict[str, Any], client: Client | None) -> RunHandle:
    return RunHandle._made(data["id"], data["task"], data.get("created", True), client)


def _batch(data: dict[str, Any], client: Client | None) -> BatchHandle:
    return BatchHandle(batch_id=data["batch_id"], runs=RunHandle._made_all(data["runs"], client))


RunList = list[Run]
TagList = list[str]
HandleList = list[AsyncRunHandle]
Json = dict[str, Any]
Events = list[RunEvent]
Logs = list[LogLine]
Attempts = list[AttemptRecord]
Journal = list[JournalEntry]
Tokens = list[Token]


class _Tasks:
    def __init__(self, client: Client) -> None:
        self._c = client

    def trigger(self, task_id: str, payload: Any = None, *, connection: Any = None,
                **options: Unpack[TriggerParams]) -> RunHandle:
        """Create a run; with ``connection`` (psycopg, SQLAlchemy or sqlite3, reaching
        Outlast's database), inside that connection's transaction: the run exists if and
        only if it commits."""
        transport = self._c.transport
        if connection is None and type(transport) is LocalTransport:
            return _handle(transport.trigger(task_id, payload, options), self._c)
        call = calls.trigger(task_id, payload, options)
        return _handle(self._c.send(call, connection), self._c)

    def batch_trigger(self, task_id: str, items: Iterable[BatchItem], *,
                      connection: Any = None) -> BatchHandle:
        body = calls.batch_items(items, with_task=False)
        transport = self._c.transport
        if connection is None and type(transport) is LocalTransport:
            # its handles made while the database inserts the runs (``LocalApi``)
            return cast(BatchHandle, transport.batch_trigger(
                task_id, body, functools.partial(_batch, client=self._c)))
        return _batch(self._c.send(calls.batch_trigger(task_id, body), connection), self._c)

    def list(self) -> list[TaskRecord]:
        return [TaskRecord.from_json(t) for t in self._c.send(calls.Call("GET", "/tasks"))["data"]]


class _Batch:
    def __init__(self, client: Client) -> None:
        self._c = client

    def trigger(self, items: Iterable[TaskBatchItem], *,
                connection: Any = None) -> BatchHandle:
        body = calls.batch_items(items, with_task=True)
        return _batch(self._c.send(calls.batch_many(body), connection), self._c)


class _Runs:
    def __init__(self, client: Client) -> None:
        self._c = client

    def retrieve(self, run_id: str) -> Run:
        """The run, its payload and output whole: a large one (kept as a blob, the record
        gives its ``payload_url``) is read from its URL."""
        record = self._c.send(calls.retrieve(run_id))
        for call in calls.blob_values(record):
            record = record | {call.path.rsplit("/", 1)[1]: self._c.send(call)}
        return Run.from_record(record)

    def list(self, **filters: Unpack[RunFilters]) -> RunList:
        """One page of runs, newest first (``limit``, ``cursor`` and filters as in the API)."""
        data = self._c.send(calls.runs_page(filters))
        return [Run.from_record(r) for r in data["data"]]

    def page(self, **filters: Unpack[RunFilters]) -> tuple[RunList, str | None]:
        data = self._c.send(calls.runs_page(filters))
        return [Run.from_record(r) for r in data["data"]], data["next_cursor"]

    def cancel(self, run_id: str) -> Run:
        return Run.from_record(self._c.send(calls.run_action(run_id, "cancel")))

    def replay(self, run_id: str, payload: Any = ...) -> RunHandle:
        body = {} if payload is ... else {"payload": payload}
        return _handle(self._c.send(calls.run_action(run_id, "replay", body)), self._c)

    def reschedule(self, run_id: str, delay: Any) -> Run:
        return Run.from_record(self._c.send(calls.reschedule(run_id, delay)))

    def resume(self, run_id: str, version: str | None = None) -> Run:
        """Queue a PARKED run again, to replay on code that matches its history; with
        ``version``, pinned to that version's workers."""
        return Run.from_record(self._c.send(calls.resume(run_id, version)))

    def move(self, run_id: str, version: str) -> Run:
        """Pin an unfinished run (not executing) to ``version``; a PARKED one is queued."""
        return Run.from_record(self._c.send(calls.move(run_id, version)))

    def update_metadata(self, run_id: str, values: Mapping[str, Any] | None = None, *,
                        operations: Iterable[MetadataOperation] | None = None
                        ) -> dict[str, Any]:
        """Set the keys of ``values``, then apply ``operations`` (``{"op": "increment",
        "key": "n", "value": 1}``; ops: set, delete, increment, decrement, append) in one
        write; returns the run's metadata. InvalidTransitionError once the run is final."""
        call = calls.update_metadata(run_id, values, operations)
        return dict(self._c.send(call)["metadata"])

    def add_tags(self, run_id: str, tags: str | Iterable[str]) -> TagList:
        """Add tags (at most 10 per run); returns the run's tags."""
        tags_now: TagList = self._c.send(calls.add_tags(run_id, tags))["tags"]
        return tags_now

    def poll(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        """Wait until the run is final; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.retrieve(run_id)
            if run.is_final:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout}s")
            time.sleep(interval)

    def events(self, run_id: str) -> Events:
        return [RunEvent.from_json(e) for e in self._part(run_id, "events")]

    def logs(self, run_id: str) -> Logs:
        return [LogLine.from_json(line) for line in self._part(run_id, "logs")]

    def attempts(self, run_id: str) -> Attempts:
        return [AttemptRecord.from_json(a) for a in self._part(run_id, "attempts")]

    def journal(self, run_id: str) -> Journal:
        """The run's durable operations and their recorded results."""
        return [JournalEntry.from_json(e) for e in self._part(run_id, "journal")]

    def trace(self, run_id: str) -> TraceJson:
        """The run as a tree of spans (``root``: the run, its attempts, their steps, waits
        and child runs, with log lines placed on them) and, while it is not final, what it
        waits for (``waiting``)."""
        found: TraceJson = self._c.send(calls.run_part(run_id, "trace"))
        return found

    def skip_wait(self, run_id: str) -> Run:
        """End a waiting run's sleeps now: it resumes as if their time had come."""
        return Run.from_record(self._c.send(calls.run_action(run_id, "skip-wait")))

    def _part(self, run_id: str, part: str) -> Iterable[Json]:
        data: Iterable[Json] = self._c.send(calls.run_part(run_id, part))["data"]
        return data

    def subscribe(self, run_id: str | None = None, *, tag: str | None = None) -> Iterator[Run]:
        """A snapshot of the run on every status, metadata or tag change, until it is
        final; with ``tag=``, snapshots of every run carrying it (never ends)."""
        return realtime.subscribe(self._c.transport, run_id, tag)

    def stream(self, run_id: str, key: str) -> Iterator[Any]:
        """The chunks of stream ``key`` from the first, until the run is final."""
        return realtime.stream(self._c.transport, run_id, key)


class _Tokens:
    """Waitpoint tokens: create, complete (human-in-the-loop), list, retrieve."""

    def __init__(self, client: Client) -> None:
        self._c = client

    def create(self, timeout: float | None = None, tags: list[str] | None = None,
               idempotency_key: str | None = None) -> Token:
        """The same ``Token`` as ``wait.create_token`` returns outside a run."""
        return Token.from_json(self._c.send(
            calls.token_create(timeout, tags or [], idempotency_key)))

    def complete(self, token_id: str, output: Any = None) -> Token:
        return Token.from_json(self._c.send(calls.token_complete(token_id, output)))

    def retrieve(self, token_id: str) -> Token:
        return Token.from_json(self._c.send(calls.token_retrieve(token_id)))

    def list(self, **filters: Unpack[TokenFilters]) -> Tokens:
        return [Token.from_json(t) for t in self._c.send(calls.tokens_page(filters))["data"]]


class _Auth:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create_public_token(self, *, run_id: str | None = None, tag: str | None = None,
                            ttl: Any = None) -> str:
        """A token a browser may use to follow one run (or runs with one tag), read-only."""
        return str(self._c.send(realtime.public_token_call(run_id, tag, ttl))["token"])


class Client:
    """Synchronous client. Give ``url`` and ``api_key``, or ``database_url``."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        database_url: str | None = None,
        environment: str = "dev",
        transport: Transport | None = None,
    ) -> None:
        if transport is None:
            transport = _make_transport(url, api_key, database_url, environment)
        self.transport = transport
        self.tasks = _Tasks(self)
        self.runs = _Runs(self)
        self.batch = _Batch(self)
        self.schedules = Schedules(self)
        self.queues = Queues(self)
        self.versions = Versions(self)
        self.tokens = _Tokens(self)
        self.auth = _Auth(self)
        #: cancel or replay every run a filter lists, in the background
        self.bulk_actions = BulkActions(self)

    def send(self, call: calls.Call, connection: Any = None) -> Any:
        """Answer ``call``; a trigger given ``connection`` is written with it instead."""
        if connection is not None:
            return in_transaction.send(self.transport, connection, call)
        return self.transport.send(call)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_transport(url: str | None, api_key: str | None, database_url: str | None,
                    environment: str) -> Transport:
    if database_url:
        return local_transport(database_url, environment)
    if not url:
        raise ConfigError("Client needs url= (and api_key=) or database_url=")
    return HttpTransport(url, api_key)


def local_transport(database_url: str, environment: str) -> LocalTransport:
    from outlast.api.local import open_engine  # the engine loads for this client only
    from outlast.sdk.registry import default_registry

    return LocalTransport(open_engine(database_url), environment, default_registry,
                          owns_engine=True)


# -- async -------------------------------------------------------------------------------


def _ahandle(data: dict[str, Any], client: AsyncClient) -> AsyncRunHandle:
    return AsyncRunHandle(id=data["id"], task=data["task"], created=data.get("created", True),
                          _client=client)


class _AsyncTasks:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def trigger(self, task_id: str, payload: Any = None, *, connection: Any = None,
                      **options: Unpack[TriggerParams]) -> AsyncRunHandle:
        transport = self._c.transport
        if connection is None and type(transport) is AsyncLocalTransport:
            return _ahandle(await transport.trigger(task_id, payload, options), self._c)
        call = calls.trigger(task_id, payload, options)
        return _ahandle(await self._c.send(call, connection), self._c)

    async def batch_trigger(self, task_id: str, items: Iterable[BatchItem], *,
                            connection: Any = None) -> HandleList:
        body = calls.batch_items(items, with_task=False)
        data = await self._c.send(calls.batch_trigger(task_id, body), connection)
        return [_ahandle(r, self._c) for r in data["runs"]]

    async def list(self) -> list[TaskRecord]:
        data = await self._c.send(calls.Call("GET", "/tasks"))
        return [TaskRecord.from_json(t) for t in data["data"]]


class _AsyncBatch:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def trigger(self, items: Iterable[TaskBatchItem], *,
                      connection: Any = None) -> HandleList:
        call = calls.batch_many(calls.batch_items(items, with_task=True))
        data = await self._c.send(call, connection)
        return [_ahandle(r, self._c) for r in data["runs"]]


class _AsyncRuns:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def retrieve(self, run_id: str) -> Run:
        record = await self._c.send(calls.retrieve(run_id))
        for call in calls.blob_values(record):
            record = record | {call.path.rsplit("/", 1)[1]: await self._c.send(call)}
        return Run.from_record(record)

    async def list(self, **filters: Unpack[RunFilters]) -> RunList:
        data = await self._c.send(calls.runs_page(filters))
        return [Run.from_record(r) for r in data["data"]]

    async def page(self, **filters: Unpack[RunFilters]) -> tuple[RunList, str | None]:
        data = await self._c.send(calls.runs_page(filters))
        return [Run.from_record(r) for r in data["data"]], data["next_cursor"]

    async def cancel(self, run_id: str) -> Run:
        return Run.from_record(await self._c.send(calls.run_action(run_id, "cancel")))

    async def replay(self, run_id: str, payload: Any = ...) -> AsyncRunHandle:
        body = {} if payload is ... else {"payload": payload}
        return _ahandle(await self._c.send(calls.run_action(run_id, "replay", body)), self._c)

    async def reschedule(self, run_id: str, delay: Any) -> Run:
        return Run.from_record(await self._c.send(calls.reschedule(run_id, delay)))

    async def resume(self, run_id: str, version: str | None = None) -> Run:
        return Run.from_record(await self._c.send(calls.resume(run_id, version)))

    async def move(self, run_id: str, version: str) -> Run:
        return Run.from_record(await self._c.send(calls.move(run_id, version)))

    async def update_metadata(self, run_id: str, values: Mapping[str, Any] | None = None, *,
                              operations: Iterable[MetadataOperation] | None = None
                              ) -> dict[str, Any]:
        call = calls.update_metadata(run_id, values, operations)
        return dict((await self._c.send(call))["metadata"])

    async def add_tags(self, run_id: str, tags: str | Iterable[str]) -> TagList:
        tags_now: TagList = (await self._c.send(calls.add_tags(run_id, tags)))["tags"]
        return tags_now

    async def poll(self, run_id: str, timeout: float = 60.0, interval: float = 0.2) -> Run:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.retrieve(run_id)
            if run.is_final:
                return run
            if time.monotonic() >= deadline:
                raise TimeoutError(f"run {run_id} is still {run.status} after {timeout}s")
            await asyncio.sleep(interval)

    async def events(self, run_id: str) -> Events:
        return [RunEvent.from_json(e) for e in await self._part(run_id, "events")]

    async def logs(self, run_id: str) -> Logs:
        return [LogLine.from_json(line) for line in await self._part(run_id, "logs")]

    async def attempts(self, run_id: str) -> Attempts:
        return [AttemptRecord.from_json(a) for a in await self._part(run_id, "attempts")]

    async def journal(self, run_id: str) -> Journal:
        return [JournalEntry.from_json(e) for e in await self._part(run_id, "journal")]

    async def trace(self, run_id: str) -> TraceJson:
        found: TraceJson = await self._c.send(calls.run_part(run_id, "trace"))
        return found

    async def skip_wait(self, run_id: str) -> Run:
        return Run.from_record(await self._c.send(calls.run_action(run_id, "skip-wait")))

    async def _part(self, run_id: str, part: str) -> Iterable[Json]:
        data: Iterable[Json] = (await self._c.send(calls.run_part(run_id, part)))["data"]
        return data

    def subscribe(self, run_id: str | None = None, *,
                  tag: str | None = None) -> AsyncIterator[Run]:
        return realtime.asubscribe(self._c.transport, run_id, tag)

    def stream(self, run_id: str, key: str) -> AsyncIterator[Any]:
        return realtime.astream(self._c.transport, run_id, key)


class _AsyncTokens:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(self, timeout: float | None = None, tags: list[str] | None = None,
                     idempotency_key: str | None = None) -> Token:
        return Token.from_json(await self._c.send(
            calls.token_create(timeout, tags or [], idempotency_key)))

    async def complete(self, token_id: str, output: Any = None) -> Token:
        return Token.from_json(await self._c.send(calls.token_complete(token_id, output)))

    async def retrieve(self, token_id: str) -> Token:
        return Token.from_json(await self._c.send(calls.token_retrieve(token_id)))

    async def list(self, **filters: Unpack[TokenFilters]) -> Tokens:
        data = await self._c.send(calls.tokens_page(filters))
        return [Token.from_json(t) for t in data["data"]]


class _AsyncAuth:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create_public_token(self, *, run_id: str | None = None, tag: str | None = None,
                                  ttl: Any = None) -> str:
        data = await self._c.send(realtime.public_token_call(run_id, tag, ttl))
        return str(data["token"])


class AsyncClient:
    """The asyncio twin of ``Client``."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        database_url: str | None = None,
        environment: str = "dev",
        transport: AsyncTransport | None = None,
    ) -> None:
        if transport is None:
            transport = (AsyncLocalTransport(local_transport(database_url, environment))
                         if database_url else AsyncHttpTransport(_need(url), api_key))
        self.transport = transport
        self.tasks = _AsyncTasks(self)
        self.runs = _AsyncRuns(self)
        self.batch = _AsyncBatch(self)
        self.schedules = AsyncSchedules(self)
        self.queues = AsyncQueues(self)
        self.versions = AsyncVersions(self)
        self.tokens = _AsyncTokens(self)
        self.auth = _AsyncAuth(self)
        self.bulk_actions = AsyncBulkActions(self)

    async def send(self, call: calls.Call, connection: Any = None) -> Any:
        if connection is not None:
            return await in_transaction.send_async(self.transport, connection, call)
        return await self.transport.send(call)

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _need(url: str | None) -> str:
    if not url:
        raise ConfigError("AsyncClient needs url= (and api_key=) or database_url=")
    return url


# -- the default clients -----------------------------------------------------------------

#: what ``configure`` was given (None: resolve from the worker or the environment)
_configured: Client | None = None
_configured_async: AsyncClient | None = None
#: the blocking default, once built
_default: Client | None = None
#: the asyncio default of each event loop (httpx clients must not cross loops); weak, so
#: that a closed loop's client goes with it and a new loop never inherits it
_default_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
    weakref.WeakKeyDictionary())
_lock = threading.Lock()
_worker_transport: Transport | None = None


def set_worker_transport(transport: Transport | None) -> None:
    """Inside a worker child: route module-level calls through the supervisor."""
    global _worker_transport, _default
    with _lock:
        _worker_transport = transport
        _default = None
        _default_async.clear()


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def resolve_settings() -> dict[str, str]:
    """Where the default client connects, by the documented order of precedence."""
    env = dict(os.environ)
    if env.get("OUTLAST_API_URL"):
        return {"url": env["OUTLAST_API_URL"], "api_key": env.get("OUTLAST_API_KEY", "")}
    dev_env = Path.cwd() / ".outlast" / "dev.env"
    if dev_env.exists():
        values = read_env_file(dev_env)
        if values.get("OUTLAST_API_URL"):
            return {"url": values["OUTLAST_API_URL"], "api_key": values.get("OUTLAST_API_KEY", "")}
    if env.get("OUTLAST_DATABASE_URL"):
        return {"database_url": env["OUTLAST_DATABASE_URL"],
                "environment": env.get("OUTLAST_ENVIRONMENT", "dev")}
    raise ConfigError(
        "no Outlast server configured: set OUTLAST_API_URL and OUTLAST_API_KEY, run "
        "`outlast dev` in this project directory (it writes .outlast/dev.env), or set "
        "OUTLAST_DATABASE_URL"
    )


def _sync_default() -> Client:
    """The blocking default (call with ``_lock`` held): what ``configure`` was given, its
    blocking twin when it was given only an AsyncClient, the worker's, the environment's."""
    global _default
    if _default is None:
        if _configured is not None:
            _default = _configured
        elif _configured_async is not None:
            _default = Client(transport=sync_twin(_configured_async.transport))
        elif _worker_transport is not None:
            _default = Client(transport=_worker_transport)
        else:
            _default = Client(**resolve_settings())  # type: ignore[arg-type]
    return _default


def default_client() -> Client:
    with _lock:
        return _sync_default()


def default_async_client() -> AsyncClient:
    """The AsyncClient ``configure`` was given, else, one per event loop, the asyncio twin
    of ``default_client()``: the same server, key or database, so that one configuration
    (``configure``, the worker, the environment) holds for both kinds of call."""
    loop = asyncio.get_running_loop()
    with _lock:
        if _configured_async is not None:
            return _configured_async
        client = _default_async.get(loop)
        if client is None:
            client = AsyncClient(transport=async_twin(_sync_default().transport))
            _default_async[loop] = client
        return client


def configure(client: Client | None = None, *, async_client: AsyncClient | None = None
              ) -> None:
    """Set the clients behind the module-level functions, blocking and asyncio alike.

    ``configure(client)`` serves both: asyncio calls (``trigger_async``,
    ``runs.retrieve_async``, ...) use a twin of ``client`` reaching the same server with the
    same key (or the same database), one per event loop. ``async_client=`` gives the
    asyncio one yourself; given alone, the blocking calls use its twin. ``configure()``
    (or ``configure(None)``) goes back to the worker's client or the environment's.
    """
    global _configured, _configured_async, _default
    with _lock:
        _configured, _configured_async = client, async_client
        _default = None
        _default_async.clear()
