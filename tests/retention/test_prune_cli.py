"""``outlast prune`` against a real database on both stores: it says what it would
delete, deletes it, and rejects a bad duration with a clear error."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.core.retention import DAY, Retention
from outlast.engine import Engine, NewRun
from outlast.store import open_store
from tests.integration.support import outcome
from tests.retention.support import all_run_ids


def runs_finished_days_ago(store_url: str, days: float, count: int) -> list[str]:
    store = open_store(store_url)
    try:
        engine = Engine(store, clock=FakeClock(time.time() - days * DAY))
        engine.register_tasks("dev", [TaskDefinition(id="job", queue="job"),
                                      TaskDefinition(id="brief", queue="brief",
                                                     retention=Retention(DAY, 2 * DAY))])
        opts = parse_options({}, engine.clock.now())
        ids = [str(engine.trigger("dev", NewRun("job", "{}", opts)).row["id"])
               for _ in range(count)]
        engine.record([outcome(r) for r in engine.claim("dev", "w", None, count)])
        return ids
    finally:
        store.close()


def test_dry_run_counts_then_prune_deletes(cli_on_store: Callable[..., Any],
                                           store_url: str) -> None:
    old = runs_finished_days_ago(store_url, 40, 2)
    recent = runs_finished_days_ago(store_url, 3, 1)
    dry = cli_on_store("prune", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 run(s)" in dry.stdout
    assert "runs" in dry.stdout and "run_events" in dry.stdout
    assert "30d/90d: job" in dry.stderr and "1d/2d: brief" in dry.stderr
    assert all_run_ids(store_url) == set(old + recent)
    done = cli_on_store("prune", "--env", "dev")
    assert done.exit_code == 0, done.output
    assert "deleted 2 run(s)" in done.stdout
    assert "last prune of dev:" in done.stderr and "2 run(s) (2 in all)" in done.stderr
    assert all_run_ids(store_url) == set(recent)
    shorter = cli_on_store("prune", "--older-than", "2d")
    assert "deleted 1 run(s)" in shorter.stdout
    assert all_run_ids(store_url) == set()


def test_a_bad_duration_is_a_clear_error(cli_on_store: Callable[..., Any]) -> None:
    result = cli_on_store("prune", "--older-than", "7x")
    assert result.exit_code == 2
    assert "--older-than: cannot read '7x' as a duration" in result.stderr
    assert cli_on_store("prune", "--env", "nowhere").exit_code == 2


def test_vacuum_gives_the_space_back(cli_on_store: Callable[..., Any], store_url: str) -> None:
    runs_finished_days_ago(store_url, 40, 1500)
    path = store_url.removeprefix("sqlite:///")
    before = os.path.getsize(path) if store_url.startswith("sqlite") else 0
    result = cli_on_store("prune", "--vacuum")
    assert result.exit_code == 0, result.output
    assert "deleted 1500 run(s)" in result.stdout and "vacuumed" in result.stderr
    if store_url.startswith("sqlite"):  # PostgreSQL keeps its files' size, reusable
        assert os.path.getsize(path) < before / 2
    refused = cli_on_store("prune", "--vacuum", "--dry-run")
    assert refused.exit_code == 2 and "a dry run deletes nothing" in refused.stderr
