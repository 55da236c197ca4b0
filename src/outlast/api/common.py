"""Helpers shared by the API handlers: reading bodies, query values and run requests.

Query values are checked here with ``outlast.inputs``' ranges, so a filter the store
cannot compare (``nan``, a NUL, an id past BIGINT) is a 400 naming it, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from outlast import inputs
from outlast.api.routes import ApiContext, LocalTask, LocalTasks
from outlast.core.options import TriggerOptions, parse_options
from outlast.engine import NewRun
from outlast.engine.schemas import check_payload
from outlast.engine.triggering import PlainBatch, item_json, plain_options
from outlast.errors import ValidationError, at_item
from outlast.jsonutil import dumps


def body_object(body: Any, what: str = "request body") -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValidationError(f"{what} must be a JSON object")
    return body


def new_run(ctx: ApiContext, env: str, task_id: str, item: dict[str, Any], now: float,
            batch_id: str | None = None, traceparent: str | None = None) -> NewRun:
    """A checked ``NewRun`` from ``{"payload": ..., "options": {...}}``, triggered in the
    trace context ``traceparent`` (checked by the caller): what ``RunRequests.new_run``
    makes, checked in the same order, without what it keeps for a batch's next items."""
    _check_fields(item)
    registry = ctx.registry
    local = _local_task(registry, task_id)
    payload = item.get("payload")
    payload_json = (local.codec.to_json(payload, task_id) if local is not None else
                    _checked_json(task_id, _payload_schema(ctx, env, task_id), payload))
    raw = item.get("options")
    options = parse_options(None if raw is None else body_object(raw, "options"), now)
    return NewRun(task_id, payload_json, options, batch_id=batch_id, traceparent=traceparent)


class RunRequests:
    """Checked ``NewRun``s of one request (a trigger, or a batch's items).

    The payload is checked by the task's own code when this process has it loaded, else
    against the JSON schema its worker registered (typed tasks only). What every item of
    a batch shares is looked at once: each task's check, and options equal to the item
    before's (parsed once, so the engine sees one ``TriggerOptions`` for them too).
    """

    def __init__(self, ctx: ApiContext, env: str, now: float, batch_id: str | None = None,
                 traceparent: str | None = None) -> None:
        self._ctx = ctx
        self._env = env
        self._now = now
        self._batch_id = batch_id
        self._traceparent = traceparent
        self._payload_json: dict[str, Callable[[Any], str]] = {}
        self._options: tuple[str, TriggerOptions] | None = None

    def new_run(self, task_id: str, item: dict[str, Any]) -> NewRun:
        _check_fields(item)
        to_json = self._payload_json.get(task_id) or self._checker(task_id)
        payload_json = to_json(item.get("payload"))
        options = self._parsed(body_object(item.get("options"), "options"))
        return NewRun(task_id, payload_json, options, batch_id=self._batch_id,
                      traceparent=self._traceparent)

    def batch(self, task_id: str, items: list[Any]) -> list[NewRun] | PlainBatch:
        """The runs of a batch's items, each checked as ``new_run`` checks one and in the
        same order (its fields, its payload, its options; item by item), so that a batch
        with errors fails with the same first one.

        When every item is plain and written with the same options (a bulk trigger's
        usual case: a payload each), a ``PlainBatch``: the payloads are checked as the runs
        are written, after the options of all. So an item whose fields or options are
        wrong first has the payloads before it (and its own, for its options) checked.
        """
        payloads: list[Any] = []
        options: list[TriggerOptions] = []
        to_json: Callable[[Any], str] | None = None
        previous: Any = items  # no item is the list itself
        for index, raw in enumerate(items):
            if raw is previous:  # the item before, checked (``[item] * 1000``): as it was
                payloads.append(payloads[-1])
                options.append(options[-1])
                continue
            try:
                item = body_object(raw, "item")
                _check_fields(item)
            except ValidationError as error:
                _check_all(to_json, payloads)
                raise at_item(error, index) from None
            if to_json is None:
                to_json = self._payload_json.get(task_id) or self._checker(task_id)
            payload = item.get("payload")
            given = item.get("options")
            try:
                parsed = self._parsed(_NO_OPTIONS if given is None
                                      else body_object(given, "options"))
            except Exception as error:
                _check_all(to_json, [*payloads, payload])
                if isinstance(error, ValidationError):
                    raise at_item(error, index) from None
                raise
            payloads.append(payload)
            options.append(parsed)
            previous = raw
        assert to_json is not None, "a batch has items"
        first = options[0]
        if plain_options(first) and all(o is first for o in options):
            return PlainBatch(task_id, first, payloads, to_json, self._batch_id,
                              self._traceparent)
        return [NewRun(task_id, item_json(to_json, payload, index), opts,
                       batch_id=self._batch_id, traceparent=self._traceparent)
                for index, (payload, opts) in enumerate(zip(payloads, options, strict=True))]

    def _checker(self, task_id: str) -> Callable[[Any], str]:
        """How ``task_id``'s payloads are checked and written (once per task)."""
        local = _local_task(self._ctx.registry, task_id)
        checker = (partial(local.codec.to_json, task_id=task_id) if local is not None
                   else partial(_checked_json, task_id,
                                _payload_schema(self._ctx, self._env, task_id)))
        self._payload_json[task_id] = checker
        return checker

    def _parsed(self, raw: dict[str, Any]) -> TriggerOptions:
        """``parse_options``; the same object again for options written as the last ones
        were. Compared by ``repr``, not ``==``: ``1 == True == 1.0``, but a priority of
        ``true`` is refused and metadata ``{"x": true}`` is not ``{"x": 1}``."""
        key = repr(raw) if raw else ""
        if self._options is not None and self._options[0] == key:
            return self._options[1]
        options = parse_options(raw, self._now)
        self._options = (key, options)
        return options


_ITEM_FIELDS = frozenset({"payload", "options", "task"})
#: an item's options left out (read, never changed)
_NO_OPTIONS: dict[str, Any] = {}


def _check_fields(item: dict[str, Any]) -> None:
    if not _ITEM_FIELDS.issuperset(item):  # no set made for an item that is right
        unknown = set(item) - _ITEM_FIELDS
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))}")


def _local_task(registry: LocalTasks | None, task_id: str) -> LocalTask | None:
    """``task_id``, checked (a body's task id, /batch, is not checked by routing), and its
    task when this process has it loaded: its payloads are checked by its own code."""
    inputs.text(task_id, "task")
    return registry.find(task_id) if registry is not None else None


def _payload_schema(ctx: ApiContext, env: str, task_id: str) -> dict[str, Any] | None:
    """The payload schema a worker registered for ``task_id`` (an unknown task fails)."""
    return ctx.engine.definition(env, task_id).payload_schema


def _check_all(to_json: Callable[[Any], str] | None, payloads: list[Any]) -> None:
    """Check ``payloads``, a batch's first items' (written and dropped): their errors come
    before a later one's, each naming its item."""
    if to_json is not None:
        for index, payload in enumerate(payloads):
            item_json(to_json, payload, index)


def _checked_json(task_id: str, schema: dict[str, Any] | None, payload: Any) -> str:
    check_payload(task_id, schema, payload)
    return dumps(payload, limit=None)  # the engine checks the configured limit


def number_or_time(value: str | None, name: str) -> float | None:
    """Query values given as epoch seconds or ISO-8601 with a zone (1970 to 9999)."""
    if value is None:
        return None
    try:
        return inputs.time(float(value), name)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{name}: expected epoch seconds or an ISO-8601 time",
                              option=name) from None
    return inputs.time((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp(),
                       name)


def page_size(raw: str | None, default: int) -> int:
    """The ``limit`` query value: 1 to 1000."""
    return inputs.query_int(raw, "limit", default, 1, 1000)


def after_id(raw: str | None) -> int:
    """The ``after`` query value of event and log pages: an id (BIGINT), 0 for the start."""
    return inputs.query_int(raw, "after", 0, 0)
