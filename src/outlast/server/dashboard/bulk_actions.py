"""Bulk actions on the dashboard: "Cancel all matching (N)" on the runs list, and
``/bulk-actions``, the recent actions with their progress (live while one runs).

The button creates a bulk action from the runs list's own filters, turned into the
``Engine.list_runs`` filters the list reads (``runs.list_filters``): the runs it cancels
are the runs the list shows, on every page of it. The upkeep holder does the work; this
page only shows how far it got.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from outlast.engine.statuses import FINAL, RunStatus
from outlast.server.dashboard.runs import RunFilters, list_filters
from outlast.server.dashboard.web import Page

#: the runs counted at most for the button (more shows as "1,000+"): one page of the list
COUNT_AT_MOST = 1_000
PAGE_SIZE = 50


def offer(page: Page, filters: RunFilters) -> dict[str, Any] | None:
    """The button's count, when a filter narrows the list and some run could be canceled
    (not when the statuses asked are all final, nor for one run found by id)."""
    if not filters.active or filters.search or _refresh(page):
        return None
    if filters.statuses and all(RunStatus(s) in FINAL for s in filters.statuses):
        return None
    wanted = list_filters(page, filters)
    total = page.engine.bulk.count(page.env, wanted, COUNT_AT_MOST + 1)
    if not total:
        return None
    shown = f"{COUNT_AT_MOST:,}+" if total > COUNT_AT_MOST else f"{total:,}"
    return {"total": total, "shown": shown, "query": filters.query()}


def _refresh(page: Page) -> bool:
    """The list's live refresh: it swaps the table only, so the button is not counted."""
    return page.request.headers.get("HX-Request") == "true"


def create(page: Page) -> Response:
    """Cancel every run the filters in this request's query list."""
    filters = RunFilters.from_page(page)
    if not filters.active or filters.search:
        page.flash("Filter the runs first: Cancel all matching acts on the runs a filter "
                   "lists.", "error")
        return page.redirect("/")
    action = page.engine.bulk.create(page.env, "cancel", wanted=list_filters(page, filters))
    page.flash(f"Canceling the matching runs in the background ({action['id']}).")
    return page.redirect(f"/bulk-actions#{action['id']}")


def bulk_page(page: Page) -> Response:
    actions, _ = page.engine.bulk.list(page.env, PAGE_SIZE)
    return page.render("bulk_actions.html", actions=[view(a) for a in actions],
                       running=any(not a["is_final"] for a in actions))


def view(action: dict[str, Any]) -> dict[str, Any]:
    """Pure: a record plus what its row shows (percent done, the filter in words)."""
    done = 100 if action["is_final"] and action["status"] == "COMPLETED" else (
        int(100 * action["processed"] / action["total"]) if action["total"] else 0)
    wanted = action["filter"]
    words = ", ".join(f"{k.replace('_', ' ')} {_value(k, v)}" for k, v in wanted.items()) \
        if wanted is not None else "chosen runs"
    return dict(action, percent=done, described=words)


def _value(key: str, value: Any) -> str:
    if key.startswith("created_"):
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ",".join(value) if isinstance(value, list) else str(value)


def abort(page: Page) -> Response:
    action = page.engine.bulk.abort(page.env, page.request.path_params["action_id"])
    page.flash(f"Bulk action {action['id']} is {action['status'].lower()} after "
               f"{action['processed']} of {action['total']} runs.")
    return page.redirect("/bulk-actions")
