"""The upkeep holder's pruner, on both stores: every environment pruned, each pass
recorded where an operator can read it, and logged at INFO when it deleted runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.options import parse_options
from outlast.core.retention import DAY
from outlast.engine import Engine, NewRun
from outlast.upkeep import Upkeep
from outlast.upkeep.pruning import Pruner
from tests.eventually import eventually
from tests.integration.support import outcome


def finished_runs(engine: Engine, env: str, count: int) -> list[str]:
    opts = parse_options({}, engine.clock.now())
    ids = [str(engine.trigger(env, NewRun("job", "{}", opts)).row["id"]) for _ in range(count)]
    engine.record([outcome(r) for r in engine.claim(env, "w", None, count)])
    return ids


def test_a_pass_prunes_every_environment_and_records_it(
        engine: Engine, clock: FakeClock, register: Callable[..., Any],
        caplog: pytest.LogCaptureFixture) -> None:
    register(engine, "job", env="dev")
    register(engine, "job", env="prod")
    finished_runs(engine, "dev", 3)
    finished_runs(engine, "prod", 2)
    pruner = Pruner(engine, lambda: True, batch_size=2, batches=1)
    assert [r.runs for r in pruner.prune_once()] == [0, 0]
    clock.advance(31 * DAY)
    with caplog.at_level(logging.INFO, logger="outlast.retention"):
        first = pruner.prune_once()
    assert [(r.environment, r.runs, r.complete) for r in first] == [
        ("dev", 2, False), ("prod", 2, True)]
    assert "deleted 2 run(s)" in caplog.text and "more next pass" in caplog.text
    assert [r.runs for r in pruner.prune_once()] == [1]  # prod has no runs left
    status = {s["environment"]: s for s in engine.retention.status()}
    assert (status["dev"]["runs"], status["dev"]["total_runs"]) == (1, 3)
    assert (status["prod"]["runs"], status["prod"]["total_runs"]) == (2, 2)
    assert status["dev"]["pruned_at"] == clock.now()


def test_the_upkeep_holder_prunes_from_its_own_thread(
        engine: Engine, clock: FakeClock, register: Callable[..., Any]) -> None:
    register(engine, "job")
    finished_runs(engine, "dev", 3)
    clock.advance(31 * DAY)
    upkeep = Upkeep(engine)
    upkeep.pruner = Pruner(engine, lambda: upkeep.leading, first_pass=0.01, interval=0.05)
    upkeep.start()
    try:
        eventually(lambda: engine.list_runs("dev")[0] == [], 10, "the runs to be pruned")
    finally:
        upkeep.stop()
    assert engine.retention.status()[0]["total_runs"] == 3
