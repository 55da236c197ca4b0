"""The handler table in process: what ``LocalTransport`` sends a client's calls to.

``Client(database_url=...)`` talks to the database with no server between, and a worker
answers its children's calls the same way: a ``LocalApi`` matches each call to its route
and runs the same handler, with the same checks, as the HTTP server would. The SDK imports
this module only when such a transport is made, so ``import outlast`` loads no engine and
no store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from outlast.api.routes import ApiContext, ApiRequest, LocalTasks, RawJson, call, match
from outlast.api.tasks import BATCH_ROUTE, TRIGGER_ROUTE
from outlast.core.settings import project_settings
from outlast.engine import Engine
from outlast.errors import ValidationError
from outlast.observability import valid_traceparent
from outlast.store import open_store


class LocalApi:
    """The API table bound to one engine (and the tasks this process has loaded).

    With ``owns_engine`` the engine was opened for this object alone (a client given a
    database URL), and ``close()`` closes its store; an engine lent by a worker or a test
    stays open for its owner.
    """

    def __init__(self, engine: Engine, registry: LocalTasks | None = None, *,
                 owns_engine: bool = False) -> None:
        self.engine = engine
        self._ctx = ApiContext(engine=engine, registry=registry)
        self._owns_engine = owns_engine

    @property
    def registry(self) -> LocalTasks | None:
        """The tasks this process has loaded (their payloads are checked by their code)."""
        return self._ctx.registry

    def close(self) -> None:
        if self._owns_engine:
            self.engine.store.close()

    def handle(self, env: str, method: str, path: str, query: dict[str, Any] | None,
               body: Any, *, traceparent: str | None = None) -> Any:
        """The answer to ``method path`` (below ``/api/v1``); errors raise as over HTTP.
        ``traceparent``: the trace context the caller made it in (a trigger's runs join
        it), checked as the server checks the header."""
        route, params = match(method, path)
        values = {k: [str(v)] for k, v in (query or {}).items()}
        request = ApiRequest(env, params, values, _json_roundtrip(body),
                             valid_traceparent(traceparent))
        _, data = call(route, self._ctx, request)
        if isinstance(data, RawJson):
            return json.loads(b"".join(data.chunks))
        return data

    def trigger(self, env: str, task_id: str, body: Any, *,
                traceparent: str | None = None) -> Any:
        """``handle("POST", f"/tasks/{task_id}/trigger", None, body)`` for a task id that
        is a path segment as it stands (``calls.plain_segment``), which routing would give
        the handler as it is: the same checks, in the same order, and the same handler,
        without a path to build and match (a single trigger's every call)."""
        request = ApiRequest(env, {"task_id": task_id}, {}, _json_roundtrip(body),
                             valid_traceparent(traceparent))
        return call(TRIGGER_ROUTE, self._ctx, request)[1]

    def batch_trigger(self, env: str, task_id: str, body: Any, shape: Callable[[Any], Any], *,
                      traceparent: str | None = None) -> Any:
        """``shape(handle("POST", f"/tasks/{task_id}/batch", None, body))`` for a task id
        that is a path segment as it stands, as ``trigger``: the same checks and handler,
        which makes ``shape``'s result itself, while the database inserts a bulk batch's
        runs (``tasks.batch_trigger``), where it would wait for the commit."""
        request = ApiRequest(env, {"task_id": task_id}, {}, _json_roundtrip(body),
                             valid_traceparent(traceparent), shape)
        return call(BATCH_ROUTE, self._ctx, request)[1]

    # -- feeds: what the realtime routes stream over HTTP, read by polling in process ----

    def run_changes(self, env: str, run_id: str,
                    after: int) -> tuple[dict[str, Any] | None, int, bool]:
        """The run's snapshot if it changed after event ``after`` (else None), the new
        cursor, and whether the run is final."""
        return self.engine.realtime.run_changes(env, run_id, after)

    def tag_changes(self, env: str, tag: str,
                    after: int) -> list[tuple[int, dict[str, Any]]]:
        """(event id, snapshot) of the runs tagged ``tag`` that changed after ``after``."""
        return self.engine.realtime.tag_changes(env, tag, after)

    def chunks(self, env: str, run_id: str, key: str,
               after: int) -> tuple[list[tuple[int, str]], bool]:
        """(sequence number, JSON text) of stream ``key`` after ``after``, and whether
        the stream is done (the run is final and nothing more follows)."""
        page = self.engine.realtime.chunks(env, run_id, key, after)
        return page.items, page.done


def _json_roundtrip(body: Any) -> Any:
    """Make in-process calls see exactly what an HTTP server would (and fail the same way):
    a copy of the body as JSON would carry it. A small body of plain JSON values is copied
    as it stands (``_plain_copy``), which gives the same and costs a trigger less than
    writing and parsing it; so is a batch of one item repeated, copied once."""
    if body is None:
        return None
    try:
        return _plain_copy(body, [_PLAIN_BUDGET])
    except _NotPlain:
        pass
    try:
        return json.loads(json.dumps(body, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"request is not JSON-serialisable: {exc}") from exc


#: values a body may hold before it goes the JSON way: a walk in Python is quicker than
#: ``json`` in C only for small ones
_PLAIN_BUDGET = 64


class _NotPlain(Exception):
    """A value JSON would change (a tuple, a subclass, a non-text key, nan) or a large body."""


def _plain_copy(value: Any, budget: list[int]) -> Any:
    """``value`` as ``json.loads(json.dumps(value))`` gives it, for exact ``dict`` (text
    keys), ``list``, ``str``, ``int``, finite ``float``, ``bool`` and None only."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _NotPlain
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value
    if kind is float and math.isfinite(value):
        return value
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise _NotPlain
        return {k: _plain_copy(v, budget) for k, v in value.items()}
    if kind is list:
        return _plain_list(value, budget)
    raise _NotPlain


def _plain_list(values: list[Any], budget: list[int]) -> list[Any]:
    """``_plain_copy`` of a list. An element that is the same object as the one before
    (a batch's ``[item] * 1000``) is the same copy again, taken from no budget: one copy
    for the run of them, where JSON would make each its own (equal, and never changed:
    the handlers read bodies, they do not write them)."""
    out: list[Any] = []
    append = out.append
    previous: Any = out  # no element is the list being made
    copy: Any = None
    for value in values:
        if value is not previous:
            previous, copy = value, _plain_copy(value, budget)
        append(copy)
    return out


def open_engine(database_url: str) -> Engine:
    """An engine over the store at ``database_url``, with the settings of this process's
    environment over the project file's (its blobs go where the workers' do); a project's
    own file (SQLite) is migrated first."""
    store = open_store(database_url)
    if store.embedded:
        store.migrate()
    return Engine(store, settings=project_settings())
