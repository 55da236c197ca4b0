"""The engine side of durable operations: what a running attempt's ``Runtime`` asks.

Each request type (``outlast.core.durable_requests``) has one handler, registered with
``@handles``; ``dispatch`` looks it up by the request's type. The supervisor answers its
children's requests with it; ``outlast.testing`` calls it directly in process. Every
operation is fenced by the attempt's lease.

An operation asked again after a database fault may have committed the first time (the
connection dropped after ``COMMIT`` was sent, before its answer came back): ``committed``
finds its journal entry and answers from it, so a step is not recorded twice and child
runs are not triggered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from outlast.core.durable_requests import (
    AddTags,
    AppendStream,
    ChildRun,
    CompleteToken,
    CreateToken,
    DurableRequest,
    Journaled,
    Patch,
    ReadJournal,
    Record,
    SleepFor,
    SleepUntil,
    Trigger,
    UpdateMetadata,
    UpdateRelatedMetadata,
    WaitToken,
)
from outlast.core.options import parse_options
from outlast.engine import Engine
from outlast.engine.triggering import NewRun
from outlast.errors import ValidationError
from outlast.jsonutil import dumps

R = TypeVar("R")
Handler = Callable[[Engine, str, R], Any]

#: request type → the handler that answers it (filled by ``@handles`` below)
HANDLERS: dict[type[Any], Handler[Any]] = {}


def handles(kind: type[R]) -> Callable[[Handler[R]], Handler[R]]:
    """Register the decorated function as the one handler of ``kind``."""

    def register(handler: Handler[R]) -> Handler[R]:
        if kind in HANDLERS:
            raise TypeError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = handler
        return handler

    return register


def dispatch(engine: Engine, env: str, request: DurableRequest) -> Any:
    """Answer ``request`` for an attempt of environment ``env``."""
    handler = HANDLERS.get(type(request))
    if handler is None:
        raise ValidationError(f"unknown durable operation {type(request).__name__}")
    return handler(engine, env, request)


def committed(engine: Engine, request: DurableRequest) -> dict[str, Any] | None:
    """The answer ``request`` gave if an earlier try of it committed; None if none did.

    Only journaled requests can tell: their entry at ``seq`` is written last."""
    if not isinstance(request, Journaled):
        return None
    at = request.at
    for entry in engine.durable.journal(at.run_id, at.lease_id):
        if entry["seq"] == at.seq:
            if (entry["kind"], entry["name"]) != (at.kind, at.name):
                return None  # not this operation's: let it fail as it would have
            if entry["status"] == "pending":
                return {"done": False}
            return {"done": True, "result": entry["result"]}
    return None


# -- journaled ---------------------------------------------------------------------------


@handles(Record)
def _record(engine: Engine, env: str, request: Record) -> Any:
    return engine.durable.record(request.at, request.result, request.elapsed)


@handles(Patch)
def _patch(engine: Engine, env: str, request: Patch) -> Any:
    return engine.durable.record(request.at, True)


@handles(SleepFor)
def _sleep_for(engine: Engine, env: str, request: SleepFor) -> Any:
    return engine.durable.sleep_until(request.at, engine.clock.now() + request.seconds)


@handles(SleepUntil)
def _sleep_until(engine: Engine, env: str, request: SleepUntil) -> Any:
    return engine.durable.sleep_until(request.at, float(request.until))


@handles(CreateToken)
def _create_token(engine: Engine, env: str, request: CreateToken) -> Any:
    return engine.durable.create_token(request.at, request.timeout, list(request.tags),
                                       request.idempotency_key)


@handles(WaitToken)
def _wait_token(engine: Engine, env: str, request: WaitToken) -> Any:
    return engine.durable.wait_for_token(request.at, request.token_id)


@handles(Trigger)
def _trigger(engine: Engine, env: str, request: Trigger) -> Any:
    # not at the top: it loads OpenTelemetry, which the supervisor has no other use for
    from outlast.observability import valid_traceparent

    now = engine.clock.now()
    traceparent = valid_traceparent(request.traceparent)
    runs = [_new_run(item, now, traceparent) for item in request.items]
    return engine.durable.trigger(request.at, env, runs, wait=request.wait,
                                  batch=request.batch)


def _new_run(item: ChildRun, now: float, traceparent: str | None) -> NewRun:
    payload = dumps(item.payload, limit=None)  # the engine checks the configured limit
    return NewRun(item.task, payload, parse_options(item.options or {}, now),
                  traceparent=traceparent)


# -- run requests ------------------------------------------------------------------------


@handles(ReadJournal)
def _read_journal(engine: Engine, env: str, request: ReadJournal) -> Any:
    return engine.durable.journal(request.run_id, request.lease_id)


@handles(CompleteToken)
def _complete_token(engine: Engine, env: str, request: CompleteToken) -> Any:
    return engine.durable.complete_token(env, request.token_id, request.output)


@handles(UpdateMetadata)
def _metadata(engine: Engine, env: str, request: UpdateMetadata) -> Any:
    return engine.realtime.update_metadata(request.run_id, request.lease_id, list(request.ops))


@handles(UpdateRelatedMetadata)
def _related_metadata(engine: Engine, env: str, request: UpdateRelatedMetadata) -> Any:
    """``metadata.parent`` / ``metadata.root``: which run was written, and whether."""
    done = engine.metadata.from_attempt(request.run_id, request.lease_id, list(request.ops),
                                        request.target)
    return {"run_id": done.run_id, "metadata": done.metadata, "applied": done.applied}


@handles(AddTags)
def _add_tags(engine: Engine, env: str, request: AddTags) -> Any:
    return engine.tags.from_attempt(request.run_id, request.lease_id, request.tags)


@handles(AppendStream)
def _append_stream(engine: Engine, env: str, request: AppendStream) -> Any:
    return engine.realtime.append_chunks(request.run_id, request.lease_id, request.key,
                                         list(request.chunks))
