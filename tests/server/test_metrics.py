"""``GET /metrics``: scraped after triggering, completing and failing runs, on both stores.

Counters and histograms count from the server's first scrape (``server/metrics.py``), so
each test scrapes once before the work it then checks. On PostgreSQL the event feed only
passes events a couple of seconds old (their transactions surely committed): the fake
clock is moved past that before the scrape that must see them.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from tests.conftest import register_tasks
from tests.metrics.promtext import Series, parse, value
from tests.server.conftest import DEV_KEY, auth

from outlast.clock import FakeClock
from outlast.core.prometheus import CONTENT_TYPE
from outlast.engine import Engine, Outcome
from outlast.engine.events import SETTLE_SECONDS
from outlast.server.app import create_app
from outlast.store import open_store
from outlast.store.queries import migration_files
from outlast.upkeep.leader import LEASE_NAME, LEASE_TTL

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def scrape(client: TestClient, **headers: str) -> Series:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return parse(response.text)


def settle(clock: FakeClock) -> None:
    clock.advance(SETTLE_SECONDS + 0.5)


def claim_all(engine: Engine, n: int) -> dict[str, dict[str, Any]]:
    return {r["task_id"] + ":" + r["id"]: r for r in engine.claim("dev", "w1", None, n)}


def test_scrape_counts_runs_queues_finishes_durations_and_waits(
        engine: Engine, clock: FakeClock, client: TestClient,
        trigger: Callable[..., Any]) -> None:
    scrape(client)  # the first scrape: counters start here
    engine.register_worker("dev", "w1", {"hostname": "h", "pid": 1, "version": "0",
                                         "queues": ["*"], "concurrency": 4})
    done, failing = (trigger(engine, "hello", {"n": i}, max_attempts=1).row["id"]
                     for i in range(2))
    trigger(engine, "other")  # stays queued
    trigger(engine, "other", delay="1h")  # DELAYED
    clock.advance(7)  # the queued runs waited this long before the claim
    rows = {r["id"]: r for r in engine.claim("dev", "w1", ["hello"], 2)}
    assert set(rows) == {done, failing}
    clock.advance(3)
    engine.record([Outcome(done, rows[done]["lease_id"], 1, "completed", executed=0.2),
                   Outcome(failing, rows[failing]["lease_id"], 1, "failed", executed=1.5,
                           error={"type": "ValueError", "message": "no"})])
    trigger(engine, "hello")  # queued 0 s ago, after the others finished
    client.post("/api/v1/waitpoints/tokens", json={})
    settle(clock)
    series = scrape(client)

    dev = {"environment": "dev"}
    assert value(series, "outlast_runs", **dev, task="hello", status="QUEUED") == 1
    assert value(series, "outlast_runs", **dev, task="other", status="QUEUED") == 1
    assert value(series, "outlast_runs", **dev, task="other", status="DELAYED") == 1
    assert ("outlast_runs", frozenset({**dev, "task": "hello", "status": "COMPLETED"}.items())
            ) not in series  # final runs are counted by the counter, not the gauge
    assert value(series, "outlast_queue_depth", **dev, queue="other") == 1
    assert value(series, "outlast_queue_depth", **dev, queue="hello") == 1
    # the queued "other" run was triggered 7 + 3 + settle seconds ago
    assert value(series, "outlast_queue_oldest_age_seconds", **dev, queue="other") == \
        pytest.approx(10 + SETTLE_SECONDS + 0.5)
    assert value(series, "outlast_runs_finished_total", **dev, task="hello",
                 status="COMPLETED") == 1
    assert value(series, "outlast_runs_finished_total", **dev, task="hello",
                 status="FAILED") == 1
    assert value(series, "outlast_attempts_started_total", **dev, task="hello") == 2
    assert value(series, "outlast_run_duration_seconds_count", **dev, task="hello") == 2
    assert value(series, "outlast_run_duration_seconds_sum", **dev, task="hello") == \
        pytest.approx(1.7)
    assert value(series, "outlast_run_duration_seconds_bucket", **dev, task="hello",
                 le="0.25") == 1
    assert value(series, "outlast_queue_wait_seconds_count", **dev, queue="hello") == 2
    assert value(series, "outlast_queue_wait_seconds_sum", **dev, queue="hello") == \
        pytest.approx(14)
    assert value(series, "outlast_workers", **dev, version="") == 1
    assert value(series, "outlast_worker_slots", **dev, state="busy") == 0
    assert value(series, "outlast_worker_slots", **dev, state="free") == 4
    assert value(series, "outlast_waits", **dev, kind="token") == 1
    assert value(series, "outlast_waits", **dev, kind="sleep") == 0
    assert value(series, "outlast_waits", **dev, kind="children") == 0


def test_counters_never_count_an_event_twice_and_never_go_back(
        engine: Engine, clock: FakeClock, client: TestClient,
        trigger: Callable[..., Any]) -> None:
    scrape(client)
    run = trigger(engine, "hello").row["id"]
    row = engine.claim("dev", "w1", None, 1)[0]
    engine.record([Outcome(run, row["lease_id"], 1, "completed")])
    settle(clock)
    first = scrape(client)
    second = scrape(client)  # nothing new: the same numbers
    name, labels = "outlast_runs_finished_total", {"environment": "dev", "task": "hello",
                                                   "status": "COMPLETED"}
    assert value(first, name, **labels) == value(second, name, **labels) == 1


def test_executing_runs_fill_busy_slots(engine: Engine, clock: FakeClock, client: TestClient,
                                        trigger: Callable[..., Any]) -> None:
    engine.register_worker("dev", "w1", {"hostname": "h", "pid": 1, "version": "0",
                                         "queues": ["*"], "concurrency": 2})
    for _ in range(3):
        trigger(engine, "hello")
    engine.claim("dev", "w1", None, 2)
    series = scrape(client)
    assert value(series, "outlast_runs", environment="dev", task="hello",
                 status="EXECUTING") == 2
    assert value(series, "outlast_worker_slots", environment="dev", state="busy") == 2
    assert value(series, "outlast_worker_slots", environment="dev", state="free") == 0


def test_upkeep_lag_is_the_time_since_the_lease_was_renewed(
        engine: Engine, clock: FakeClock, client: TestClient) -> None:
    assert value(scrape(client), "outlast_upkeep_lag_seconds") == float("inf")  # nobody
    assert engine.try_lead(LEASE_NAME, "holder-1", LEASE_TTL)
    clock.advance(4)
    assert value(scrape(client), "outlast_upkeep_lag_seconds") == pytest.approx(4)
    clock.advance(20)  # the holder stopped renewing: the lag keeps growing
    assert value(scrape(client), "outlast_upkeep_lag_seconds") == pytest.approx(24)


# -- who may read ------------------------------------------------------------------------


def test_a_scrape_without_a_key_is_refused_as_the_api_refuses_it(
        anonymous: TestClient) -> None:
    response = anonymous.get("/metrics")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    bad = anonymous.get("/metrics", headers=auth("ol_not-a-key"))
    assert bad.status_code == 401


def test_a_key_reads_only_its_own_environment(
        engine: Engine, as_env: Callable[[str], TestClient],
        trigger: Callable[..., Any]) -> None:
    register_tasks(engine, "staged", env="staging")
    trigger(engine, "staged", env="staging")
    trigger(engine, "hello")
    series = scrape(as_env("staging"))
    assert value(series, "outlast_runs", environment="staging", task="staged",
                 status="QUEUED") == 1
    assert {dict(labels).get("environment") for _, labels in series} == {"staging", None}


@pytest.fixture
def public(engine: Engine, tasks: tuple[str, ...]) -> Iterator[TestClient]:
    app = create_app(engine, dev_api_key=DEV_KEY, scheduler=False, metrics_public=True,
                     allowed_hosts=frozenset({"outlast.example"}))
    with TestClient(app, base_url="http://10.0.0.7:8030") as c:
        yield c


def test_public_metrics_need_no_key_show_every_environment_and_answer_any_host(
        engine: Engine, public: TestClient, trigger: Callable[..., Any]) -> None:
    register_tasks(engine, "staged", env="staging")
    trigger(engine, "staged", env="staging")
    trigger(engine, "hello")
    series = scrape(public)  # Host 10.0.0.7 is not an allowed host: scrapers use addresses
    assert value(series, "outlast_runs", environment="staging", task="staged",
                 status="QUEUED") == 1
    assert value(series, "outlast_runs", environment="dev", task="hello",
                 status="QUEUED") == 1
    assert public.get("/api/v1/runs").status_code == 400  # the API still checks the Host


@pytest.mark.parametrize("query", ["?name[]=x", "?environment=prod", "?%ff=%00", "?" + "a" * 5000])
def test_scrape_parameters_are_ignored(client: TestClient, query: str) -> None:
    response = client.get("/metrics" + query)
    assert response.status_code == 200
    parse(response.text)


def test_other_methods_on_metrics_are_not_server_errors(client: TestClient) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert client.request(method, "/metrics").status_code < 500


# -- health and readiness ---------------------------------------------------------------


def _mark_applied(url: str, name: str, applied: bool) -> None:
    """Add or drop ``name`` in the database's record of applied migrations: unmarking the
    newest one gives the schema record of code one release ahead of its database."""
    sqlite = url.startswith("sqlite:///")
    drop = "DELETE FROM outlast_migrations WHERE name = {}"
    add = "INSERT INTO outlast_migrations (name) VALUES ({})"
    statement = (add if applied else drop).format("?" if sqlite else "%s")
    if sqlite:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement, (name,))
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(statement, (name,))


def test_healthz_and_readyz_answer_apart_on_a_database_behind_the_code(
        empty_store_url: str, clock: FakeClock) -> None:
    store = open_store(empty_store_url)
    try:
        store.migrate()
        last = migration_files(store.dialect)[-1][0]
        _mark_applied(empty_store_url, last, False)
        app: Starlette = create_app(Engine(store, clock=clock), scheduler=False)
        with TestClient(app) as c:
            assert c.get("/healthz").json() == {"status": "ok"}  # alive: do not restart it
            ready = c.get("/readyz")
            assert ready.status_code == 503
            assert last in ready.json()["reason"]
            assert "outlast migrate" in ready.json()["reason"]
            _mark_applied(empty_store_url, last, True)  # what `outlast migrate` records
            assert c.get("/readyz").json() == {"status": "ready"}
    finally:
        store.close()


def test_readyz_waits_for_what_readiness_says(engine: Engine) -> None:
    reasons = ["the worker has not registered the tasks yet"]
    app = create_app(engine, scheduler=False,
                     readiness=lambda: reasons[0] if reasons else None)
    with TestClient(app) as c:
        assert c.get("/readyz").json()["reason"] == reasons[0]
        assert c.get("/healthz").status_code == 200
        reasons.clear()
        assert c.get("/readyz").status_code == 200
