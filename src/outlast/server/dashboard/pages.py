"""The smaller pages: workers (with the database's size), the overview charts, logging in
and out."""

from __future__ import annotations

from starlette.responses import Response

from outlast.core.key_scopes import FULL
from outlast.engine import database_size
from outlast.server.dashboard import charts, data, format, session
from outlast.server.dashboard.web import Page, safe_next

OVERVIEW_MINUTES = 60
PERCENTILE_BUCKET = 5  # minutes per point of the duration chart
CHART_ORDER = ["COMPLETED", "EXECUTING", "WAITING", "QUEUED", "DELAYED", "PARKED", "FAILED",
               "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT", "CANCELED", "EXPIRED"]


def workers_page(page: Page) -> Response:
    """The live workers, and under them the Database card (not in the 5-second refresh:
    on SQLite the table sizes read every page of the run tables)."""
    database = None if page.fragment else database_size.table_sizes(page.engine)
    oldest = None if page.fragment else database_size.oldest_finished(page.engine, page.env)
    return page.render("workers.html", workers=data.workers(page.engine, page.env),
                       database=database, oldest=oldest)


def overview_page(page: Page) -> Response:
    now = page.now
    end_minute = int(now // 60) * 60 + 60
    start = end_minute - OVERVIEW_MINUTES * 60
    rows = data.recent_runs(page.engine, page.env, start)
    per_minute: list[dict[str, int]] = [{} for _ in range(OVERVIEW_MINUTES)]
    for r in rows:
        slot = int((r["created_at"] - start) // 60)
        if 0 <= slot < OVERVIEW_MINUTES:
            per_minute[slot][r["status"]] = per_minute[slot].get(r["status"], 0) + 1
    minute_labels = [format.clock_time(start + 60 * i, now)[:5] for i in range(OVERVIEW_MINUTES)]
    buckets = OVERVIEW_MINUTES // PERCENTILE_BUCKET
    durations: list[list[float]] = [[] for _ in range(buckets)]
    for r in rows:
        if r["status"] == "COMPLETED" and r["finished_at"] is not None:
            slot = int((r["finished_at"] - start) // (60 * PERCENTILE_BUCKET))
            if 0 <= slot < buckets:
                durations[slot].append(float(r["execution_seconds"]))
    series = {name: [data.percentile(d, q) for d in durations]
              for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}
    bucket_labels = [format.clock_time(start + 60 * PERCENTILE_BUCKET * i, now)[:5]
                     for i in range(buckets)]
    finished = [r for r in rows if r["status"] in data.UNSUCCESSFUL or r["status"] == "COMPLETED"]
    ok = sum(r["status"] == "COMPLETED" for r in finished)
    all_ok = [float(r["execution_seconds"]) for r in rows if r["status"] == "COMPLETED"]
    return page.render(
        "overview.html", total=len(rows), capped=len(rows) >= data.OVERVIEW_LIMIT,
        success_rate=ok / len(finished) if finished else None,
        p50=data.percentile(all_ok, 50), p95=data.percentile(all_ok, 95),
        active=data.active_counts(page.engine, page.env),
        runs_chart=charts.stacked_bars(per_minute, minute_labels, CHART_ORDER, format.STATUS_TONE),
        duration_chart=charts.lines(series, bucket_labels),
        legend=[s for s in CHART_ORDER if any(s in b for b in per_minute)])


def login_page(page: Page) -> Response:
    if page.env:
        return page.redirect(safe_next(page.q("next")))
    return page.render("login.html", next=safe_next(page.q("next")), error=None)


def login(page: Page) -> Response:
    found = data.login(page.engine, page.field("key"))
    if found is None:
        return page.render("login.html", status_code=401, next=safe_next(page.field("next")),
                           error="That key is not valid (or was revoked).")
    if found[2] != FULL:
        # a read or trigger key would see (or cancel) what it may not: full keys only
        return page.render("login.html", status_code=403, next=safe_next(page.field("next")),
                           error=f"That is a {found[2]}-only API key; the dashboard needs a "
                                 "full key (outlast keys create --scope full).")
    page.session.set("env", found[0])
    page.session.set("key", found[1])
    session.open_record(page.engine, page.session, found[0])
    return page.redirect(safe_next(page.field("next")))


def logout(page: Page) -> Response:
    session.close_record(page.engine, page.session)
    page.session.pop("env")
    page.session.pop("key")
    return page.redirect("/login")
