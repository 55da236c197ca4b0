"""The Errors page (``/errors``): failures grouped by task, error type and message, and
one group's page (``/errors/{fingerprint}``) with its newest occurrences and a stack."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from outlast.engine.failures import DEFAULT_WINDOW, WINDOWS
from outlast.errors import ValidationError
from outlast.server.dashboard import charts, format
from outlast.server.dashboard.web import Page


def _window(page: Page) -> str:
    """The window asked for; an unknown one falls back to the default (a page, not a 400)."""
    asked = page.q("window")
    return asked if asked in WINDOWS else DEFAULT_WINDOW


def _slot_labels(group: dict[str, Any], now: float) -> list[str]:
    width = float(group["slot_seconds"])
    start = float(group["since"])
    return [f"{format.clock_time(start + width * i, now)} – "
            f"{format.clock_time(start + width * (i + 1), now)}"
            for i in range(len(group["counts"]))]


def _decorate(group: dict[str, Any], now: float) -> dict[str, Any]:
    return group | {
        "chart": charts.sparkline(group["counts"], _slot_labels(group, now),
                                  "failed attempts"),
        "runs_href": "/?" + urlencode({"error": group["fingerprint"]}),
        "href": f"/errors/{group['fingerprint']}?" + urlencode({"window": group["window"]}),
    }


def errors_page(page: Page) -> Response:
    window, task = _window(page), page.q("task")
    groups = page.engine.errors.list(page.env, window, task or None)
    tasks = sorted({t["id"] for t in page.engine.list_tasks(page.env)} | ({task} - {""}))
    return page.render(
        "errors.html", groups=[_decorate(g, page.now) for g in groups], window=window,
        windows=list(WINDOWS), task=task, tasks=tasks,
        totals={"attempts": sum(g["attempts_failed"] for g in groups),
                "runs": sum(g["runs_failed"] for g in groups)})


def error_page(page: Page) -> Response:
    window = _window(page)
    try:
        group = page.engine.errors.get(page.env, page.request.path_params["fingerprint"],
                                       window)
    except ValidationError as exc:
        return page.render("not_found.html", status_code=404, message=exc.message)
    return page.render("error.html", group=_decorate(group, page.now), window=window,
                       windows=list(WINDOWS))
