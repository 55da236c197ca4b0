"""The API calls the clients make, built once for the sync and the async client.

Each builder returns a ``Call`` (what to send) and the sync/async resources only differ
in how they send it. Options are checked here, on the caller's side, so that
``delay="soon"`` fails before any network round trip.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from outlast.core.options import parse_options
from outlast.core.params import MetadataOperation, RunFilters, TokenFilters, check_keywords
from outlast.durations import parse_duration
from outlast.errors import ValidationError, at_item
from outlast.observability import current_traceparent


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any = None
    query: dict[str, Any] | None = None
    #: a trigger's trace context: the span current where the call was made, so the runs
    #: it creates join that trace (sent as the ``traceparent`` header over HTTP)
    traceparent: str | None = None


def _seg(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"expected a non-empty id, got {value!r}")
    return quote(value, safe="")


#: what ``quote`` leaves as it is: a task id of these alone is its path segment
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_.~-]+")


def plain_segment(value: object) -> bool:
    """Whether ``value`` is an id that ``_seg`` passes and leaves as it is."""
    return type(value) is str and _PLAIN_SEGMENT.fullmatch(value) is not None


def options_json(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Checked options as JSON. A relative delay travels as seconds, so the server's clock
    (not the caller's) decides when it is due."""
    if options is None or type(options) is dict and not options:
        return {}
    checked = parse_options(options, time.time()).to_json()  # refuses a non-mapping
    if options.get("delay") is not None:
        checked["delay"] = delay_json(options["delay"])
    return checked


def delay_json(delay: Any) -> Any:
    """``"5m"``/``timedelta``/number → seconds; an aware ``datetime`` → ``{"at": epoch}``."""
    if isinstance(delay, datetime):
        return {"at": parse_options({"delay": delay}, time.time()).delay}
    try:
        return parse_duration(delay, "delay")
    except ValidationError:
        parse_options({"delay": delay}, time.time())  # an ISO time passes, anything else raises
        return delay


def trigger(task_id: str, payload: Any, options: Mapping[str, Any] | None) -> Call:
    return Call("POST", f"/tasks/{_seg(task_id)}/trigger",
                {"payload": payload, "options": options_json(options)},
                traceparent=current_traceparent())


#: the keys of a batch item (``tasks.batch_trigger``), and of one naming its task (``batch``)
_ITEM_FIELDS = frozenset({"payload", "options"})
_TASK_ITEM_FIELDS = _ITEM_FIELDS | {"task"}


def batch_items(items: Iterable[Mapping[str, Any]], with_task: bool) -> list[dict[str, Any]]:
    """The items as the API takes them; options that are the same object as the item
    before's (one dict for a batch) are checked once. In a list or tuple, an item that is
    the same object as the one before (``[item] * 1000``) is the same entry again, one
    object (the API's copy of the body copies it once): it cannot have changed in between,
    as an item a generator yields again may have."""
    out: list[dict[str, Any]] = []
    last: tuple[Any, dict[str, Any]] | None = None
    repeats = type(items) is list or type(items) is tuple
    previous: Any = out  # no item is the list being made
    entry: dict[str, Any] = {}
    fields = _TASK_ITEM_FIELDS if with_task else _ITEM_FIELDS
    for index, item in enumerate(items):
        if item is previous:
            out.append(entry)
            continue
        options = _checked_item(item, fields, with_task, index).get("options")
        if last is None or last[0] is not options:
            try:
                last = (options, options_json(options))
            except ValidationError as error:
                raise at_item(error, index) from None
        entry = {"payload": item.get("payload"), "options": last[1]}
        if with_task:
            entry["task"] = item.get("task")
        out.append(entry)
        if repeats:
            previous = item
    return out


def _checked_item(item: Any, fields: frozenset[str], with_task: bool,
                  index: int) -> Mapping[str, Any]:
    """Batch item ``index``, a mapping of known keys; a ValidationError naming it if not."""
    if type(item) is not dict and not isinstance(item, Mapping) \
            or "payload" not in item and not with_task:
        raise at_item(ValidationError(
            "each batch item is a dict with 'payload' (and 'options')"), index)
    if not fields.issuperset(item):  # a misspelled key would be dropped unseen
        unknown = ", ".join(sorted(map(str, set(item) - fields)))
        raise at_item(ValidationError(f"unknown batch item field(s): {unknown} (expected "
                                      f"{', '.join(sorted(fields))})"), index)
    return item


def batch_trigger(task_id: str, items: list[dict[str, Any]]) -> Call:
    return Call("POST", f"/tasks/{_seg(task_id)}/batch", {"items": items},
                traceparent=current_traceparent())


def batch_many(items: list[dict[str, Any]]) -> Call:
    return Call("POST", "/batch", {"items": items}, traceparent=current_traceparent())


def retrieve(run_id: str) -> Call:
    return Call("GET", f"/runs/{_seg(run_id)}")


def list_runs(
    status: str | list[str] | None = None,
    task: str | None = None,
    tag: str | None = None,
    created_after: datetime | float | None = None,
    created_before: datetime | float | None = None,
    parent_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    root_id: str | None = None,
    idempotency_key: str | None = None,
    version: str | None = None,
    queue: str | None = None,
    search: str | None = None,
    sort: str | None = None,
) -> Call:
    query: dict[str, Any] = {"limit": limit}
    if status:
        query["status"] = ",".join([status] if isinstance(status, str) else status)
    for key, value in (("task", task), ("tag", tag), ("cursor", cursor), ("parent_id", parent_id),
                       ("root_id", root_id), ("idempotency_key", idempotency_key),
                       ("version", version), ("queue", queue), ("search", search),
                       ("sort", sort)):
        if value is not None:
            query[key] = value
    for key, when in (("created_after", created_after), ("created_before", created_before)):
        if when is not None:
            query[key] = when.timestamp() if isinstance(when, datetime) else float(when)
    return Call("GET", "/runs", query=query)


def runs_page(filters: RunFilters) -> Call:
    """``runs.list(**filters)``: an unknown filter is a TypeError that names it."""
    check_keywords(filters, RunFilters, "runs.list")
    return list_runs(**filters)


def run_action(run_id: str, action: str, body: Any = None) -> Call:
    return Call("POST", f"/runs/{_seg(run_id)}/{action}", body or {})


def resume(run_id: str, version: str | None) -> Call:
    return run_action(run_id, "resume", {} if version is None else {"version": version})


def move(run_id: str, version: str) -> Call:
    return run_action(run_id, "move", {"version": version})


def reschedule(run_id: str, delay: Any) -> Call:
    return run_action(run_id, "reschedule", {"delay": delay_json(delay)})


def update_metadata(run_id: str, values: Mapping[str, Any] | None,
                    operations: Iterable[MetadataOperation] | None) -> Call:
    body: dict[str, Any] = {}
    if values:
        body["set"] = dict(values)
    if operations:
        body["operations"] = [dict(op) for op in operations]
    if not body:
        raise ValidationError("update_metadata: give keys to set and/or operations")
    return Call("PUT", f"/runs/{_seg(run_id)}/metadata", body)


def add_tags(run_id: str, tags: str | Iterable[str]) -> Call:
    return Call("POST", f"/runs/{_seg(run_id)}/tags",
                {"tags": [tags] if isinstance(tags, str) else list(tags)})


#: a run's values that may be kept as blobs: its record then has ``<name>_url`` instead
BLOB_VALUES = ("payload", "output")


def blob_values(record: dict[str, Any]) -> list[Call]:
    """The calls that read the values a run record leaves out (kept as blobs)."""
    return [Call("GET", f"/runs/{_seg(record['id'])}/{name}")
            for name in BLOB_VALUES if record.get(f"{name}_url")]


def run_part(run_id: str, part: str, after: int = 0) -> Call:
    return Call("GET", f"/runs/{_seg(run_id)}/{part}", query={"after": after} if after else None)


def token_create(timeout: float | None, tags: list[str], idempotency_key: str | None) -> Call:
    return Call("POST", "/waitpoints/tokens",
                {"timeout": timeout, "tags": tags, "idempotency_key": idempotency_key})


def token_complete(token_id: str, output: Any) -> Call:
    return Call("POST", f"/waitpoints/tokens/{_seg(token_id)}/complete", {"output": output})


def token_retrieve(token_id: str) -> Call:
    return Call("GET", f"/waitpoints/tokens/{_seg(token_id)}")


def tokens_page(filters: TokenFilters) -> Call:
    check_keywords(filters, TokenFilters, "tokens.list")
    return token_list(**filters)


def token_list(status: str | None = None, tag: str | None = None, run_id: str | None = None,
               limit: int = 50, cursor: str | None = None) -> Call:
    query: dict[str, Any] = {"limit": limit}
    for key, value in (("status", status), ("tag", tag), ("run_id", run_id), ("cursor", cursor)):
        if value is not None:
            query[key] = value
    return Call("GET", "/waitpoints/tokens", query=query)
