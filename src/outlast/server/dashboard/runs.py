"""The runs list (``/``): filters that live in the URL, a live table, bulk actions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from outlast.engine.listing import SEARCH_WINDOW, SORTS
from outlast.engine.statuses import RunStatus
from outlast.errors import OutlastError, ValidationError
from outlast.server.dashboard import data
from outlast.server.dashboard.web import Page, safe_next

PAGE_SIZE = 50
PERIODS = {"15m": 900, "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400,
           "30d": 30 * 86400}
MAX_BULK = 500


@dataclass
class RunFilters:
    statuses: list[str] = field(default_factory=list)
    task: str = ""
    tag: str = ""
    period: str = ""
    start: str = ""
    end: str = ""
    search: str = ""
    parent: str = ""
    version: str = ""
    queue: str = ""
    sort: str = "created"
    #: an error group's fingerprint: runs with a failed attempt in it (the Errors page)
    error: str = ""

    @classmethod
    def from_page(cls, page: Page) -> RunFilters:
        valid = {s.value for s in RunStatus}
        statuses = [s.upper() for s in page.request.query_params.getlist("status")
                    if s.upper() in valid]
        period, sort = page.q("period"), page.q("sort")
        return cls(statuses, page.q("task"), page.q("tag"), period if period in PERIODS else "",
                   page.q("from"), page.q("to"), page.q("q").strip(), page.q("parent"),
                   page.q("version"), page.q("queue"), sort if sort in SORTS else "created",
                   page.q("error"))

    @property
    def active(self) -> bool:
        return any([self.statuses, self.task, self.tag, self.period, self.start, self.end,
                    self.search, self.parent, self.version, self.queue, self.error,
                    self.sort != "created"])

    @property
    def payload_search(self) -> bool:
        """Whether the search text is looked for in payloads (in a bounded window)."""
        return bool(self.search) and not self.search.startswith("run_")

    def query(self, **changes: Any) -> str:
        """This filter set as a query string, with ``changes`` applied."""
        params: dict[str, Any] = {"status": self.statuses, "task": self.task, "tag": self.tag,
                                  "queue": self.queue, "period": self.period,
                                  "from": self.start, "to": self.end, "q": self.search,
                                  "parent": self.parent, "version": self.version,
                                  "error": self.error,
                                  "sort": "" if self.sort == "created" else self.sort}
        params.update(changes)
        pairs = [(k, v) for k, value in params.items()
                 for v in (value if isinstance(value, list) else [value]) if v]
        return urlencode(pairs)

    def window(self, now: float) -> tuple[float | None, float | None]:
        if self.period:
            return now - PERIODS[self.period], None
        return parse_time(self.start, "from"), parse_time(self.end, "to")


def parse_time(text: str, name: str) -> float | None:
    """``2026-01-01T12:00`` (as a ``datetime-local`` input sends it, read as UTC)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name}: expected a time like 2026-01-31T09:30") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def find_runs(page: Page, filters: RunFilters) -> tuple[list[dict[str, Any]], str | None]:
    return page.engine.list_runs(page.env, **list_filters(page, filters),
                                 search=filters.search or None, sort=filters.sort,
                                 limit=PAGE_SIZE, cursor=page.q("cursor") or None)


def list_filters(page: Page, filters: RunFilters) -> dict[str, Any]:
    """The ``Engine.list_runs`` filters the page's filters mean (a bulk action's too: it is
    not offered while a search narrows the list)."""
    after, before = filters.window(page.now)
    return dict(status=filters.statuses or None, task=filters.task or None,
                tag=filters.tag or None, queue=filters.queue or None, created_after=after,
                created_before=before, parent_id=filters.parent or None,
                version=filters.version or None, fingerprint=filters.error or None)


def runs_page(page: Page) -> Response:
    from outlast.server.dashboard import bulk_actions  # it builds on this module

    filters = RunFilters.from_page(page)
    error = None
    try:
        runs, cursor = find_runs(page, filters)
    except ValidationError as exc:
        runs, cursor, error = [], None, exc.message
    defined = page.engine.list_tasks(page.env)
    tasks = [t["id"] for t in defined]
    queues = sorted({str(t["queue"]) for t in defined} | ({filters.queue} - {""}))
    return page.render("runs.html", runs=runs, next_cursor=cursor, filters=filters,
                       statuses=[s.value for s in RunStatus], tasks=tasks, queues=queues,
                       periods=PERIODS, sorts=SORTS, search_window=SEARCH_WINDOW,
                       versions=data.version_names(page.engine, page.env),
                       filter_error=error, paged=bool(page.q("cursor")),
                       bulk=None if error else bulk_actions.offer(page, filters))


def bulk_action(page: Page) -> Response:
    """Cancel or replay the selected runs; one message sums up what happened."""
    action = page.field("action")
    ids = [i for i in (page.form.getlist("ids") if page.form else []) if isinstance(i, str)]
    back = safe_next(page.field("back"))
    if action not in ("cancel", "replay") or not ids:
        page.flash("Select runs first, then choose Cancel or Replay.", "error")
        return page.redirect(back)
    done, skipped = 0, []
    for run_id in ids[:MAX_BULK]:
        try:
            if action == "cancel":
                page.engine.cancel(page.env, run_id)
            else:
                page.engine.replay(page.env, run_id)
            done += 1
        except OutlastError as exc:
            skipped.append(exc.message)
    verb = "Canceled" if action == "cancel" else "Replayed"
    message = f"{verb} {done} run{'s' if done != 1 else ''}."
    if skipped:
        message += f" Skipped {len(skipped)}: {skipped[0]}" + ("…" if len(skipped) > 1 else "")
    page.flash(message, "error" if skipped and not done else "ok")
    return page.redirect(back)
