"""``connection=``: a trigger written inside the application's own database transaction.

The run exists if and only if the app's transaction commits (the outbox pattern): the
client sends its usual trigger call not to its transport but to the API handlers running
on the app's connection (``outlast.api.in_transaction``), which must reach Outlast's own
database. The client still says where runs go: a client given ``database_url`` its
environment and project URL, an HTTP client its API key (looked up in that database).

Inside a task, ``trigger`` is already recorded once per run; ``connection=`` is refused
there, since a replay could not know whether the app's transaction committed.
"""

from __future__ import annotations

from typing import Any

from outlast.errors import ValidationError
from outlast.sdk.calls import Call
from outlast.sdk.durable import current_run
from outlast.sdk.transports import (
    AsyncHttpTransport,
    AsyncLocalTransport,
    HttpTransport,
    LocalTransport,
)


def send(transport: Any, connection: Any, call: Call) -> Any:
    """``call`` (a trigger) answered as its transport would, written with ``connection``."""
    from outlast.api import in_transaction  # the engine loads for these triggers only

    return in_transaction.handle(_origin(transport), connection, call.method, call.path,
                                 call.body, traceparent=call.traceparent)


async def send_async(transport: Any, connection: Any, call: Call) -> Any:
    from outlast.api import in_transaction

    return await in_transaction.handle_async(_origin(transport), connection, call.method,
                                             call.path, call.body,
                                             traceparent=call.traceparent)


def _origin(transport: Any) -> Any:
    from outlast.api.in_transaction import Origin

    if current_run.get() is not None:
        raise ValidationError("connection= is for application code: inside a task, trigger "
                              "is recorded once per run already")
    if isinstance(transport, AsyncLocalTransport):
        transport = transport.local
    if isinstance(transport, LocalTransport):
        return Origin(environment=transport.environment, local=transport.api)
    if isinstance(transport, HttpTransport | AsyncHttpTransport):
        return Origin(api_key=transport.api_key)
    raise ValidationError(f"connection= needs a client configured with url= and api_key=, "
                          f"or database_url=; this one sends through "
                          f"{type(transport).__name__}")
