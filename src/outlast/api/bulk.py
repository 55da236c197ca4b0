"""``/bulk-actions``: cancel or replay every run a filter lists (or a list of ids).

The ``filter`` is the query of ``GET /runs`` as a JSON object, read by the very function
that reads that query (``runs.run_filter``), so an action touches the runs the list shows.
Creating answers 202 with a PENDING record; the upkeep holder does the work in batches.
"""

from __future__ import annotations

from typing import Any

from outlast import inputs
from outlast.api.common import body_object, page_size
from outlast.api.routes import ApiContext, ApiRequest, Query, Route
from outlast.api.runs import LIST_QUERY, run_filter
from outlast.core.params import BulkActionBody, BulkCountBody
from outlast.core.records import BulkActionJson, BulkCountJson, Page
from outlast.errors import ValidationError
from outlast.jsonutil import dumps

#: the ``GET /runs`` query values a filter may hold (not its paging)
FILTERS = tuple(q.name for q in LIST_QUERY if q.name not in ("limit", "cursor"))
#: runs ``/bulk-actions/count`` counts at most
COUNT_AT_MOST = 100_000


def read_filter(env: str, value: Any) -> dict[str, Any]:
    """A body's ``filter`` object as ``Engine.list_runs`` keywords."""
    wanted = body_object(value, "filter")
    unknown = set(wanted) - set(FILTERS)
    if unknown:
        raise ValidationError(f"unknown filter(s): {', '.join(sorted(unknown))} (expected "
                              f"{', '.join(FILTERS)})")
    query = {name: [_query_text(name, v)] for name, v in wanted.items() if v is not None}
    return run_filter(ApiRequest(env, query=query))


def _query_text(name: str, value: Any) -> str:
    if isinstance(value, list) and name == "status" and all(isinstance(v, str) for v in value):
        return inputs.text(",".join(value), name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        expected = "text or a list of texts" if name == "status" else "text"
        raise ValidationError(f"filter {name}: expected {expected}, got {value!r}")
    return inputs.text(str(value), name)


def create(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    unknown = set(body) - {"action", "filter", "run_ids", "payload"}
    if unknown:
        raise ValidationError(f"unknown field(s): {', '.join(sorted(unknown))} (expected "
                              "'action', 'filter' or 'run_ids', and 'payload')")
    wanted = read_filter(req.env, body["filter"]) if "filter" in body else None
    record = ctx.engine.bulk.create(
        req.env, str(body.get("action")), wanted=wanted, run_ids=body.get("run_ids"),
        payload_json=dumps(body["payload"]) if "payload" in body else None)
    return 202, record


def count(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    body = body_object(req.body)
    if set(body) != {"filter"}:
        raise ValidationError("expected {\"filter\": {...}} (the query values of GET /runs)")
    wanted = ctx.engine.bulk.check_filter(req.env, read_filter(req.env, body["filter"]))
    total = ctx.engine.bulk.count(req.env, wanted, COUNT_AT_MOST)
    return 200, {"total": total, "at_most": COUNT_AT_MOST, "filter": wanted}


def retrieve(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.bulk.get(req.env, req.params["bulk_action_id"])


def list_actions(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    actions, cursor = ctx.engine.bulk.list(req.env, page_size(req.q("limit"), 20),
                                           req.q("cursor"))
    return 200, {"data": actions, "next_cursor": cursor}


def abort(ctx: ApiContext, req: ApiRequest) -> tuple[int, Any]:
    return 200, ctx.engine.bulk.abort(req.env, req.params["bulk_action_id"])


ROUTES = [
    Route("POST", "/bulk-actions", create,
          "Cancel or replay every run a filter lists (or the given run ids), in the "
          "background; 202 with the action's record", body=BulkActionBody,
          returns=BulkActionJson),
    Route("POST", "/bulk-actions/count", count,
          "How many runs a bulk action with this filter would act on (nothing is changed)",
          body=BulkCountBody, returns=BulkCountJson),
    Route("GET", "/bulk-actions", list_actions, "List bulk actions, newest first",
          query=(Query("limit", "Page size, 1-1000 (default 20)", "integer"),
                 Query("cursor", "The next_cursor of the previous page")),
          returns=Page[BulkActionJson]),
    Route("GET", "/bulk-actions/{bulk_action_id}", retrieve,
          "A bulk action: status, progress and counts", returns=BulkActionJson),
    Route("POST", "/bulk-actions/{bulk_action_id}/abort", abort,
          "Stop a bulk action after its batch in flight", returns=BulkActionJson),
]
