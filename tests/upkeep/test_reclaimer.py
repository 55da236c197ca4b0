"""Upkeep vacuums the run tables whose dead rows pile up (PostgreSQL), whatever the
cluster's autovacuum does; on SQLite nothing is ever due."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine, Outcome
from outlast.engine.reclaiming import MIN_DEAD, MIN_GAP, due_tables, is_due
from outlast.upkeep.reclaiming import Reclaimer
from tests.eventually import eventually


@pytest.mark.parametrize(("live", "dead", "vacuumed_at", "due"), [
    (0, 0, None, False),
    (0, MIN_DEAD - 1, None, False),  # a few dead rows: not worth a pass
    (0, MIN_DEAD, None, True),
    (1_000_000, 19_999, None, False),  # under a fiftieth of a large table
    (1_000_000, 20_000, None, True),
    (0, MIN_DEAD, 1000.0 - MIN_GAP + 1, False),  # vacuumed a moment ago: a long
    (0, MIN_DEAD, 1000.0 - MIN_GAP, True),  # transaction may keep them; wait a while
])
def test_a_table_is_due_when_its_dead_rows_pile_up(
        live: int, dead: int, vacuumed_at: float | None, due: bool) -> None:
    assert is_due(live, dead, vacuumed_at, now=1000.0) is due


def dead_runs(store_url: str) -> int:
    """As dead_rows counts them: updated or deleted since the last count, or n_dead_tup."""
    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT greatest(n_dead_tup, n_mod_since_analyze - n_ins_since_vacuum) "
            "FROM pg_stat_user_tables WHERE relname = 'runs'").fetchone()
    return int(row[0]) if row else 0


def forget_vacuums(store_url: str) -> None:
    """Clear the run tables' statistics, their last VACUUM included: the database is
    shared by the tests of a worker process, and a VACUUM another test ran (a store's
    ``reclaim`` or ``compact``) would hold the next one back for ``MIN_GAP``."""
    with psycopg.connect(store_url, autocommit=True) as conn:
        for table in ("runs", "attempts", "run_events"):
            conn.execute("SELECT pg_stat_reset_single_table_counters(%s::regclass)", (table,))


def finish_runs(engine: Engine, trigger: Callable[..., Any], n: int) -> None:
    engine.register_tasks("dev", [TaskDefinition(id="hello", queue="hello")])
    for i in range(n):
        trigger(engine, "hello", {"n": i})
    for row in engine.claim("dev", "w", None, n):
        engine.record([Outcome(row["id"], row["lease_id"], 1, "completed", output=1)])


def test_upkeep_vacuums_the_runs_table_once_its_dead_rows_pile_up(
        engine: Engine, clock: FakeClock, store_url: str,
        trigger: Callable[..., Any]) -> None:
    reclaimer = Reclaimer(engine, lambda: True)
    if not store_url.startswith("sqlite"):
        forget_vacuums(store_url)
    finish_runs(engine, trigger, MIN_DEAD // 2 + 10)  # two dead versions a run
    if store_url.startswith("sqlite"):
        assert due_tables(engine) == [] and reclaimer.reclaim_once() == []
        return
    eventually(lambda: dead_runs(store_url) >= MIN_DEAD, 30, "the statistics to count them")
    assert "runs" in reclaimer.reclaim_once()
    eventually(lambda: dead_runs(store_url) < MIN_DEAD, 30, "the vacuum to clear them")
    assert "runs" not in due_tables(engine)
    with psycopg.connect(store_url) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (MIN_DEAD // 2 + 10,)

