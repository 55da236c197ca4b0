"""Nightly reports: a schedule per user in their zone, a child per portfolio, prices fetched
within the provider's rate limit, a concurrency key per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from investment_report import accounts
from investment_report.prices import price_api
from investment_report.tasks import (
    nightly_report,
    schedule_nightly_reports,
    sync_report_schedules,
)

from outlast import queues, runs, schedules
from outlast.testing import TestRuns

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.fixture
def env() -> Iterator[TestRuns]:
    accounts.outbox.sent.clear()
    price_api.calls.clear()
    price_api.refused = 0
    with TestRuns(start=START) as test_env:
        price_api.clock = test_env.clock.now  # the provider sees Outlast's test clock
        yield test_env


def tick(schedule: schedules.Schedule) -> dict[str, Any]:
    """The payload the schedule's next tick gives its run."""
    assert schedule.next_run is not None
    return {"timestamp": schedule.next_run.isoformat(), "timezone": schedule.timezone,
            "schedule_id": schedule.id, "external_id": schedule.external_id}


def test_each_user_gets_07_00_in_their_own_zone(env: TestRuns) -> None:
    made = {s.external_id: s for s in schedule_nightly_reports()}
    assert {u.id: made[u.id].timezone for u in accounts.USERS} == {
        "u-ada": "Europe/London", "u-kenji": "Asia/Tokyo", "u-maria": "America/New_York"}
    for s in made.values():
        assert s.next_run is not None
        assert (s.next_run.hour, s.next_run.minute) == (7, 0)  # local time
    # 07:00 in Tokyo, London and New York are three different instants
    assert len({s.next_run.astimezone(UTC) for s in made.values() if s.next_run}) == 3
    assert made["u-kenji"].next_run == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def test_syncing_schedules_again_updates_them_instead_of_adding(env: TestRuns) -> None:
    first = env.run(sync_report_schedules, None).output
    again = env.run(sync_report_schedules, None, idempotency_key="again").output
    assert first == again and len(schedules.list()) == len(accounts.USERS)


def test_a_nightly_run_values_each_portfolio_and_mails_the_user(env: TestRuns) -> None:
    maria = {s.external_id: s for s in schedule_nightly_reports()}["u-maria"]
    run = env.run(nightly_report, tick(maria))
    assert run.status == "COMPLETED", run.error
    assert run.output["user"] == "u-maria" and run.output["day"] == "2026-03-02"

    children = runs.list(parent_id=run.id)
    assert sorted(c.payload["portfolio_id"] for c in children) == ["p-maria-kids",
                                                                   "p-maria-main"]
    assert {c.raw["concurrency_key"] for c in children} == {"tenant-contoso"}
    [mail] = accounts.outbox.sent
    assert mail["to"] == "maria@example.com" and "p-maria-main" in mail["body"]
    totals = sum(c.output["total"] for c in children)
    assert run.output["total"] == pytest.approx(totals)


def test_prices_are_fetched_within_the_providers_rate_limit(env: TestRuns) -> None:
    ticks = [tick(s) for s in schedule_nightly_reports()]
    reports = [env.trigger(nightly_report, t) for t in ticks]
    env.run_until_idle()
    assert [env.retrieve(r.id).status for r in reports] == ["COMPLETED"] * 3
    # 13 quotes at 10 a minute: Outlast held the rest in the queue, the provider refused none
    fetches = runs.list(task="fetch-price", limit=100)
    assert len(fetches) == 13 and {f.attempts for f in fetches} == {1}
    assert price_api.refused == 0
    times = sorted(t for t, _ in price_api.calls)
    assert all(later - earlier >= 60 for earlier, later in zip(times, times[10:], strict=False))


def test_without_the_queues_rate_limit_the_provider_refuses_calls(env: TestRuns) -> None:
    queues.update("price-api", rate_limit=None)  # an operator lifts the limit
    reports = [env.trigger(nightly_report, tick(s)) for s in schedule_nightly_reports()]
    env.run_until_idle()
    assert price_api.refused > 0  # 429s: some quotes needed a retry
    assert max(f.attempts for f in runs.list(task="fetch-price", limit=100)) > 1
    assert [env.retrieve(r.id).status for r in reports] == ["COMPLETED"] * 3  # retried


def test_valuations_are_limited_per_tenant(env: TestRuns) -> None:
    [queue] = [q for q in queues.list() if q["name"] == "portfolio-valuations"]
    assert queue["concurrency_limit"] == 2  # per concurrency key: per tenant
