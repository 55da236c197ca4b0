"""``/runs``: read, list, cancel, replay and reschedule runs; resume parked runs and move
runs to another version; update their metadata and add tags from outside."""

from __future__ import annotations

from typing import Any

from outlast.api.common import after_id, body_object, number_or_time, page_size
from outlast.api.routes import ApiContext, ApiRequest, Query, RawJson, Route
from outlast.api.tasks import triggered_json
from outlast.core.key_scopes import FULL
from outlast.core.options import parse_delay
from outlast.core.params import (
    JsonValue,
    MetadataBody,
    MoveBody,
    ReplayBody,
    RescheduleBody,
    ResumeBody,
    TagsBody,
)
from outlast.core.records import (
    AttemptRecord,
    Items,
    JournalEntry,
    LogLine,
    MetadataJson,
    Page,
    RunEvent,
    RunJson,
    TagsJson,
    TraceJson,
    TriggeredJson,
)
from outlast.engine.listing import SEARCH_WINDOW
from outlast.engine.metadata import set_ops
from outlast.errors import ValidationError
from outlast.jsonutil import dumps


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.retrieve(req.env, req.params["run_id"])


def payload(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    chunks, size = ctx.engine.run_value(req.env, req.params["run_id"], "payload")
    return 200, RawJson(chunks, size)


def output(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    chunks, size = ctx.engine.run_value(req.env, req.params["run_id"], "output")
    return 200, RawJson(chunks, size)


def list_runs(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    runs, cursor = ctx.engine.list_runs(
        req.env, **run_filter(req), limit=page_size(req.q("limit"), 50), cursor=req.q("cursor"))
    return 200, {"data": runs, "next_cursor": cursor}


def run_filter(req: ApiRequest) -> dict[str, Any]:
    """The ``Engine.list_runs`` filters read from the query (bulk actions read theirs from
    a body's ``filter`` with this same function: one set of runs, one set of checks)."""
    return dict(
        status=[s.upper() for s in req.q_list("status")] or None,
        task=req.q("task"),
        tag=req.q("tag"),
        created_after=number_or_time(req.q("created_after"), "created_after"),
        created_before=number_or_time(req.q("created_before"), "created_before"),
        parent_id=req.q("parent_id"),
        root_id=req.q("root_id"),
        idempotency_key=req.q("idempotency_key"),
        version=req.q("version"),
        fingerprint=req.q("fingerprint"),
        queue=req.q("queue"),
        search=req.q("search"),
        sort=req.q("sort"),
    )


def cancel(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.cancel(req.env, req.params["run_id"])


def replay(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    payload = dumps(body["payload"], limit=None) if "payload" in body else None
    triggered = ctx.engine.replay(req.env, req.params["run_id"], payload)
    return 201, triggered_json(triggered)


def reschedule(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    if "delay" not in body:
        raise ValidationError("reschedule needs a 'delay' (e.g. '5m' or an ISO time)")
    at = parse_delay(body["delay"], ctx.engine.clock.now())
    return 200, ctx.engine.reschedule(req.env, req.params["run_id"], at)


def resume(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """``{"version"?}``: a PARKED run goes back to its queue, to replay again."""
    body = body_object(req.body)
    _only(body, {"version"})
    version = body.get("version")
    if "version" in body and version is None:
        raise ValidationError("version: expected a version string, got null")
    return 200, ctx.engine.parking.resume(req.env, req.params["run_id"], version)


def move(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """``{"version"}``: pin an unfinished run to another version; a PARKED one is queued."""
    body = body_object(req.body)
    _only(body, {"version"})
    if "version" not in body:
        raise ValidationError("move needs a 'version' (the version whose workers run it)")
    return 200, ctx.engine.parking.move(req.env, req.params["run_id"], body["version"])


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))} (expected "
                              f"{', '.join(repr(a) for a in sorted(allowed))})")


def update_metadata(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """``{"set": {...}, "operations": [{"op", "key", "value"}, ...]}``: the keys of ``set``
    first, then the operations, in one write; answers the run's metadata afterwards."""
    body = body_object(req.body)
    unknown = set(body) - {"set", "operations"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))} (expected "
                              "'set' and/or 'operations')")
    values, operations = body.get("set") or {}, body.get("operations") or []
    if not isinstance(values, dict) or not isinstance(operations, list):
        raise ValidationError("'set' is an object of keys to set; 'operations' a list of "
                              "{op, key, value} (op: set, delete, increment, decrement, append)")
    metadata = ctx.engine.metadata.update(req.env, req.params["run_id"],
                                          set_ops(values) + operations)
    return 200, {"metadata": metadata}


def add_tags(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    """``{"tags": [...]}``; answers the run's tags afterwards."""
    body = body_object(req.body)
    if set(body) != {"tags"}:
        raise ValidationError("expected {\"tags\": [\"tag\", ...]}")
    return 200, {"tags": ctx.engine.tags.add(req.env, req.params["run_id"], body["tags"])}


def events(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    ctx.engine.retrieve(req.env, req.params["run_id"])  # 404 for other environments
    after = after_id(req.q("after"))
    return 200, {"data": ctx.engine.events(req.params["run_id"], after=after)}


def logs(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    ctx.engine.retrieve(req.env, req.params["run_id"])
    after = after_id(req.q("after"))
    return 200, {"data": ctx.engine.logs(req.params["run_id"], after=after)}


def attempts(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    ctx.engine.retrieve(req.env, req.params["run_id"])
    return 200, {"data": ctx.engine.attempts(req.params["run_id"])}


def trace(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.trace(req.env, req.params["run_id"]).to_json()


def skip_wait(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.skip_wait(req.env, req.params["run_id"])


def journal(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    ctx.engine.retrieve(req.env, req.params["run_id"])
    # kept-apart results read back: a local replay of the run (``outlast runs debug``)
    # needs the values its code was handed
    return 200, {"data": ctx.engine.durable.run_journal_resolved(req.params["run_id"])}


LIST_QUERY = (
    Query("status", "Only these statuses, comma-separated (e.g. FAILED,CRASHED)"),
    Query("task", "Only runs of this task id"),
    Query("tag", "Only runs carrying this tag"),
    Query("created_after", "Created at or after: epoch seconds or ISO-8601"),
    Query("created_before", "Created before: epoch seconds or ISO-8601"),
    Query("parent_id", "Only runs this run triggered"),
    Query("root_id", "Only runs below this root run, at any depth (not the root itself)"),
    Query("idempotency_key", "Only runs holding this idempotency key"),
    Query("version", "Only runs pinned to this version"),
    Query("fingerprint", "Only runs with a failed attempt in this error group (GET /errors)"),
    Query("queue", "Only runs of this queue"),
    Query("search", "Text starting with run_: runs whose id starts with it; other text: "
          "runs whose idempotency key starts with it, carrying exactly that tag, or whose "
          f"payload contains it (any case; looked for in {SEARCH_WINDOW:,} runs a page: a page "
          "can come back short, or empty, with a next_cursor)"),
    Query("sort", "created (default: newest first), started or finished (that time, newest "
          "first; runs without it are left out)"),
    Query("limit", "Page size, 1-1000 (default 50)", "integer"),
    Query("cursor", "The next_cursor of the previous page"),
)

ROUTES = [
    Route("GET", "/runs", list_runs, "List runs, newest first (or by sort)", query=LIST_QUERY,
          returns=Page[RunJson]),
    Route("GET", "/runs/{run_id}", retrieve, "Retrieve a run", returns=RunJson),
    Route("GET", "/runs/{run_id}/payload", payload,
          "A run's payload as JSON, streamed (a large one, kept as a blob, too)",
          returns=JsonValue),
    Route("GET", "/runs/{run_id}/output", output,
          "A run's output as JSON (null until it completes), streamed", returns=JsonValue),
    Route("POST", "/runs/{run_id}/cancel", cancel, "Cancel a run", returns=RunJson),
    Route("POST", "/runs/{run_id}/replay", replay, "Replay a run as a new run",
          body=ReplayBody, returns=TriggeredJson),
    Route("POST", "/runs/{run_id}/reschedule", reschedule, "Move a delayed run's start",
          body=RescheduleBody, returns=RunJson),
    Route("POST", "/runs/{run_id}/resume", resume,
          "Resume a PARKED run (replay met code that no longer matched); 409 if not parked",
          body=ResumeBody, returns=RunJson),
    Route("POST", "/runs/{run_id}/move", move,
          "Pin an unfinished run to another version (a PARKED one is also queued); 409 if "
          "it is final or executing", body=MoveBody, returns=RunJson),
    Route("PUT", "/runs/{run_id}/metadata", update_metadata,
          "Update a run's metadata (set keys and/or operations); 409 once it is final",
          body=MetadataBody, returns=MetadataJson),
    Route("POST", "/runs/{run_id}/tags", add_tags, "Add tags to a run (at most 10 per run)",
          body=TagsBody, returns=TagsJson),
    Route("GET", "/runs/{run_id}/events", events, "A run's event timeline",
          returns=Items[RunEvent]),
    Route("GET", "/runs/{run_id}/logs", logs, "A run's logs, every attempt",
          returns=Items[LogLine]),
    Route("GET", "/runs/{run_id}/attempts", attempts, "A run's attempts",
          returns=Items[AttemptRecord]),
    # its token entries carry callback URLs, which complete the tokens: full keys only
    Route("GET", "/runs/{run_id}/journal", journal, "A run's durable operations",
          returns=Items[JournalEntry], needs=FULL),
    Route("GET", "/runs/{run_id}/trace", trace,
          "A run as a tree of spans (attempts, steps, waits, child runs, logs) and what it "
          "waits for", returns=TraceJson),
    Route("POST", "/runs/{run_id}/skip-wait", skip_wait,
          "End a waiting run's sleeps now, so it resumes; 409 if it is not sleeping",
          returns=RunJson),
]
