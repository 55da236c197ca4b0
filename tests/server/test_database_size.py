"""The database's size on ``GET /metrics`` and the Workers page, on both stores: bytes of
every run table, their rows (SQLite counts them; PostgreSQL's estimate appears once it
has counted the table), and the age of the oldest finished run retention keeps."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from tests.metrics.promtext import Series, parse, value
from tests.server.conftest import auth

from outlast.clock import FakeClock
from outlast.engine import Engine, Outcome
from outlast.engine.database_size import TABLES, oldest_finished, table_sizes
from outlast.server import metrics

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def scrape(client: TestClient) -> Series:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    return parse(response.text)


def finish(engine: Engine, trigger: Callable[..., Any], clock: FakeClock, n: int) -> list[str]:
    ids = []
    for i in range(n):
        run_id = trigger(engine, "hello", {"n": i}).row["id"]
        [row] = engine.claim("dev", "w", None, 1)
        engine.record([Outcome(run_id, row["lease_id"], 1, "completed", output=i)])
        ids.append(run_id)
        clock.advance(60)
    return ids


def analyze(store_url: str) -> None:
    if store_url.startswith("postgresql"):
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("ANALYZE runs, attempts")


def test_metrics_show_table_sizes_and_the_oldest_finished_run(
        engine: Engine, clock: FakeClock, client: TestClient, store_url: str,
        trigger: Callable[..., Any]) -> None:
    series = scrape(client)
    assert ("outlast_oldest_finished_run_age_seconds",
            frozenset({"environment": "dev"}.items())) not in series  # nothing finished yet
    first, *_ = finish(engine, trigger, clock, 3)
    trigger(engine, "hello")  # a live run: not a finished one, but a row of runs
    clock.advance(metrics.SIZES_EVERY)  # past the kept reading
    analyze(store_url)
    series = scrape(client)

    for table in TABLES:
        assert value(series, "outlast_table_bytes", table=table) > 0
    assert value(series, "outlast_table_rows", table="runs") == 4
    assert value(series, "outlast_table_rows", table="attempts") == 3
    # the first run finished 3 minutes (and the advance past the kept reading) ago
    assert value(series, "outlast_oldest_finished_run_age_seconds", environment="dev") \
        == 180 + metrics.SIZES_EVERY
    assert oldest_finished(engine, "dev").run_id == first


def test_table_sizes_are_read_at_most_once_a_minute(
        engine: Engine, clock: FakeClock, client: TestClient, store_url: str,
        trigger: Callable[..., Any]) -> None:
    analyze(store_url)
    before = value(scrape(client), "outlast_table_rows", table="runs")
    finish(engine, trigger, clock, 1)  # advances the clock a minute
    analyze(store_url)
    assert value(scrape(client), "outlast_table_rows", table="runs") == before + 1
    trigger(engine, "hello")
    analyze(store_url)
    assert value(scrape(client), "outlast_table_rows", table="runs") == before + 1  # kept


def test_postgres_rows_are_not_known_before_the_table_was_counted(
        engine: Engine, store_url: str) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite counts rows; it has no estimate to wait for")
    size = table_sizes(engine)
    assert size.rows_estimated
    assert {t.table: t.rows for t in size.tables}["runs"] is None
    analyze(store_url)
    assert {t.table: t.rows for t in table_sizes(engine).tables}["runs"] == 0


def test_the_workers_page_shows_the_database_card(
        engine: Engine, clock: FakeClock, app: Starlette, dev_key: str, store_url: str,
        trigger: Callable[..., Any]) -> None:
    first, *_ = finish(engine, trigger, clock, 2)
    analyze(store_url)
    with TestClient(app, headers=auth(dev_key)) as c:
        page = c.get("/workers").text
        live = c.get("/workers", headers={"HX-Request": "true"}).text
    assert 'id="database"' in page and f'href="/runs/{first}"' in page
    assert 'data-table="run_events"' in page and "UTC\">2m ago</span>" in page
    assert '<tr data-table="runs"><td class="mono">runs</td><td class="num">2</td>' in page
    assert 'id="database"' not in live  # the 5-second refresh does not read the sizes
