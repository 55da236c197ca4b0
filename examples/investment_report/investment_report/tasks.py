"""The nightly report: a schedule per user at 07:00 in their time zone; each run values
every portfolio of the user in child runs and e-mails the result.

- `nightly-report` (one run per user and night) fans out with `batch.trigger_and_wait`,
  one `value-portfolio` child per portfolio, and waits for all without holding a worker.
- `value-portfolio` runs on a queue limited to 2 at a time **per tenant** (the child's
  `concurrency_key`), so one big firm's thousands of portfolios never hold every worker.
- `fetch-price` runs on a queue with the provider's rate limit (10 a minute): a run over
  the budget waits in the queue instead of failing with a 429.
"""

from __future__ import annotations

from typing import Any

from investment_report import accounts
from investment_report.prices import LIMIT, WINDOW, price_api
from outlast import Queue, Retry, batch, schedules, step, task

price_api_queue = Queue("price-api", rate_limit=f"{LIMIT}/{WINDOW:g}s")
valuations = Queue("portfolio-valuations", concurrency_limit=2)

REPORT_CRON = "0 7 * * *"  # 07:00, in each user's own zone


@task(id="fetch-price", queue=price_api_queue,
      retry=Retry(max_attempts=5, min_delay=30, max_delay=300))
def fetch_price(payload: dict[str, str]) -> dict[str, Any]:
    return {"symbol": payload["symbol"], "price": price_api.quote(payload["symbol"])}


@task(id="value-portfolio", queue=valuations)
def value_portfolio(payload: dict[str, str]) -> dict[str, Any]:
    shares = step.run("holdings", accounts.holdings, payload["portfolio_id"])
    quotes = fetch_price.batch_trigger_and_wait(
        [{"payload": {"symbol": symbol}} for symbol in sorted(shares)])
    prices = {q.unwrap()["symbol"]: q.unwrap()["price"] for q in quotes}
    positions = {s: round(shares[s] * prices[s], 2) for s in sorted(shares)}
    return {"portfolio_id": payload["portfolio_id"], "positions": positions,
            "total": round(sum(positions.values()), 2)}


@step
def send_report(email: str, day: str, portfolios: list[dict[str, Any]]) -> None:
    lines = [f"{p['portfolio_id']}: {p['total']:,.2f}" for p in portfolios]
    accounts.outbox.send(email, f"Your portfolios on {day}", "\n".join(lines))


@task(id="nightly-report")
def nightly_report(payload: schedules.ScheduledPayload) -> dict[str, Any]:
    user = accounts.user(str(payload.external_id))
    portfolio_ids = step.run("portfolios", accounts.portfolios_of, user.id)
    results = batch.trigger_and_wait([
        {"task": "value-portfolio", "payload": {"portfolio_id": p},
         "options": {"concurrency_key": f"tenant-{user.tenant}", "tags": [f"user:{user.id}"]}}
        for p in portfolio_ids])
    portfolios = [r.unwrap() for r in results]
    day = payload.timestamp.date().isoformat()  # the user's own date: the tick is in their zone
    send_report(user.email, day, portfolios)
    return {"user": user.id, "day": day, "total": round(sum(p["total"] for p in portfolios), 2)}


def schedule_nightly_reports() -> list[schedules.Schedule]:
    """One schedule per user, at 07:00 in the user's zone. Safe to run again: the
    deduplication key updates a user's schedule (a new time zone, say) rather than adding one.
    """
    return [schedules.create(task="nightly-report", cron=REPORT_CRON, timezone=u.timezone,
                             external_id=u.id, deduplication_key=f"nightly-report-{u.id}")
            for u in accounts.USERS]


@task(id="sync-report-schedules")
def sync_report_schedules(payload: Any) -> list[str]:
    """Run after sign-ups and time-zone changes: `outlast trigger sync-report-schedules`."""
    return [s.id for s in schedule_nightly_reports()]
