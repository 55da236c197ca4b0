"""Triggers written with the caller's own connection, inside the caller's transaction.

The handlers of ``POST /tasks/{id}/trigger``, ``/tasks/{id}/batch`` and ``/batch`` run
unchanged on an engine whose store is the lent transaction (``outlast.store.borrowed``):
the task is looked up in the registered definitions read with that connection, the payload
checked (by the task's code when loaded, else its schema), options and version pins
checked, idempotency keys honoured, and the run, its events, tags and notifications written,
all in the caller's transaction. The run exists if and only if the caller commits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from outlast.api.local import LocalApi
from outlast.api.routes import LocalTasks
from outlast.clock import Clock, SystemClock
from outlast.core.key_scopes import TRIGGER, require
from outlast.engine import Engine
from outlast.errors import AuthError, ConfigError, ValidationError
from outlast.store.borrowed import (
    ACCEPTED,
    ACCEPTED_ASYNC,
    BorrowedStore,
    dbapi_connection,
    dbapi_connection_async,
    is_async,
    lend,
    lend_async,
)
from outlast.store.protocol import Tx

#: what may be sent with ``connection=``: writing runs, nothing else
TRIGGER_PATHS = ("/trigger", "/batch")


@dataclass(frozen=True)
class Origin:
    """What the calling client knows of where its runs go.

    A client given ``database_url`` (``local``) knows its environment, project URL, clock
    and loaded tasks; one that talks HTTP knows only its API key, whose environment is read
    in the lent connection (it must be Outlast's database, where the key is stored).
    """

    environment: str | None = None
    api_key: str | None = None
    local: LocalApi | None = None


def handle(origin: Origin, connection: Any, method: str, path: str, body: Any, *,
           accepted: str = ACCEPTED, traceparent: str | None = None) -> Any:
    """The answer of a trigger call written with ``connection`` (made in the trace
    context ``traceparent``, which its runs join)."""
    _check_call(method, path)
    with lend(dbapi_connection(connection), _url(origin), accepted=accepted) as tx:
        return _handle_in(tx, origin, method, path, body, traceparent)


async def handle_async(origin: Origin, connection: Any, method: str, path: str,
                       body: Any, *, traceparent: str | None = None) -> Any:
    """``handle`` from asyncio code: an ``AsyncConnection`` is driven from a worker thread
    while this coroutine waits; a blocking connection is used here, as the caller would."""
    _check_call(method, path)
    connection = await dbapi_connection_async(connection)
    if not is_async(connection):
        return handle(origin, connection, method, path, body, accepted=ACCEPTED_ASYNC,
                      traceparent=traceparent)
    loop = asyncio.get_running_loop()

    def work() -> Any:
        with lend_async(connection, _url(origin), loop) as tx:
            return _handle_in(tx, origin, method, path, body, traceparent)

    return await asyncio.to_thread(work)


def _check_call(method: str, path: str) -> None:
    if method != "POST" or not path.endswith(TRIGGER_PATHS):
        raise ValidationError(f"connection= is for triggers only, not {method} {path}")


def _url(origin: Origin) -> str | None:
    return origin.local.engine.store.url if origin.local is not None else None


def _handle_in(tx: Tx, origin: Origin, method: str, path: str, body: Any,
               traceparent: str | None) -> Any:
    local = origin.local
    clock: Clock = local.engine.clock if local is not None else SystemClock()
    blobs = local.engine.blobs.store if local is not None else None
    engine = Engine(BorrowedStore(tx, blobs), clock=clock,
                    settings=local.engine.settings if local is not None else None)
    registry: LocalTasks | None = local.registry if local is not None else None
    env = origin.environment or _key_environment(engine, origin.api_key)
    return LocalApi(engine, registry).handle(env, method, path, None, body,
                                             traceparent=traceparent)


def _key_environment(engine: Engine, api_key: str | None) -> str:
    if not api_key:
        raise ConfigError("connection=: this client has no API key to name its environment "
                          "by; configure OUTLAST_API_KEY, or a client with database_url=")
    grant = engine.find_key(api_key)
    if grant is None:
        raise AuthError("connection=: the client's API key is not in the database this "
                        "connection reaches; it must be a connection to Outlast's database")
    require(grant.scope, TRIGGER, "a trigger")
    return grant.environment
