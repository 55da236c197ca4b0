"""EXECUTING runs in lists and counts, on both stores.

PostgreSQL's list indexes leave EXECUTING runs out (its migration 0028), so there a list or
count that includes them reads them apart and merges them with the others
(``listing.status_parts`` and PostgreSQL's own count queries); SQLite reads them with the
others. These pin what a reader sees on both: every run once, newest first, on the page
where it belongs, whichever filter, sort, search or page size, and counts that include the
EXECUTING runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast.clock import FakeClock
from outlast.core.definitions import TaskDefinition
from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun, Outcome
from outlast.engine import metrics as run_metrics
from outlast.engine.dequeue import WorkerCode
from outlast.server.dashboard import data

ENV = "dev"
BATCH = "batch_1"
WORKER = "w1"
CODE = WorkerCode("v1", ("a", "b"))


def claim(engine: Engine, queue: str, count: int) -> list[str]:
    return [str(r["id"]) for r in engine.claim(ENV, WORKER, [queue], count, CODE)]


@pytest.fixture
def runs(engine: Engine, clock: FakeClock) -> dict[str, str]:
    """Six runs of one batch a minute apart, alternating tasks a (queue qa) and b (queue qb),
    all tagged ``t``, each with idempotency key ``key-<name>``: a0 completed, b1, a2 and b3
    EXECUTING (started in that order, pinned to version v1 of ``outlast dev``), a4 and b5
    queued."""
    definitions = [TaskDefinition(id="a", queue="qa"), TaskDefinition(id="b", queue="qb")]
    engine.register_tasks(ENV, definitions)
    engine.register_version(ENV, WORKER, "v1", definitions, source="dev")
    made = {}
    for i, name in enumerate(["a0", "b1", "a2", "b3", "a4", "b5"]):
        options = parse_options({"tags": ["t"], "idempotency_key": f"key-{name}"},
                                clock.now())
        made[name] = str(engine.trigger(ENV, NewRun(name[0], json.dumps({"i": i}), options,
                                                    batch_id=BATCH)).row["id"])
        clock.advance(60)
    [held] = engine.claim(ENV, WORKER, ["qa"], 1, CODE)
    engine.record([Outcome(run_id=held["id"], lease_id=held["lease_id"], attempt=1,
                           kind="completed", executed=0.1, output=None)])
    clock.advance(60)
    assert claim(engine, "qb", 1) == [made["b1"]]
    clock.advance(60)
    assert claim(engine, "qa", 1) == [made["a2"]]
    clock.advance(60)
    assert claim(engine, "qb", 1) == [made["b3"]]
    return made


def every_page(engine: Engine, limit: int, **filters: Any) -> list[list[str]]:
    """Each page's ids, following the cursors to the end."""
    pages: list[list[str]] = []
    cursor = None
    for _ in range(20):
        rows, cursor = engine.list_runs(ENV, limit=limit, cursor=cursor, **filters)
        pages.append([str(r["id"]) for r in rows])
        if cursor is None:
            return pages
    raise AssertionError("the cursor never ended")


def names(runs: dict[str, str], *keys: str) -> list[str]:
    return [runs[k] for k in keys]


def by_id(runs: dict[str, str], *keys: str) -> list[str]:
    """The runs in the list's creation order: ids sort by the wall clock of the process
    that made them (the fake clock does not reach them), newest first."""
    return sorted(names(runs, *keys), reverse=True)


EVERY = ("b5", "a4", "b3", "a2", "b1", "a0")


@pytest.mark.parametrize("filters, expected", [
    ({}, EVERY),
    ({"tag": "t"}, EVERY),
    ({"search": "run_"}, EVERY),
    ({"search": "t"}, EVERY),  # the exact tag
    ({"task": "b"}, ("b5", "b3", "b1")),
    ({"queue": "qa"}, ("a4", "a2", "a0")),
    ({"version": "v1"}, ("b3", "a2", "b1", "a0")),
    ({"status": ["EXECUTING"]}, ("b3", "a2", "b1")),
    ({"status": ["QUEUED", "EXECUTING"]}, ("b5", "a4", "b3", "a2", "b1")),
    ({"status": ["COMPLETED", "EXECUTING"], "task": "a"}, ("a2", "a0")),
    ({"sort": "started"}, ("b3", "a2", "b1", "a0")),
    ({"sort": "finished"}, ("a0",)),
])
@pytest.mark.parametrize("limit", [1, 2, 4, 100])
def test_executing_runs_are_listed_in_order_on_their_page(
    engine: Engine, runs: dict[str, str], filters: dict[str, Any],
    expected: tuple[str, ...], limit: int
) -> None:
    timed = filters.get("sort") in ("started", "finished")  # listed by that time
    want = names(runs, *expected) if timed else by_id(runs, *expected)
    assert every_page(engine, limit, **filters) == [
        want[i:i + limit] for i in range(0, len(want), limit)]


def test_a_time_range_lists_executing_runs_by_creation_time(
    engine: Engine, runs: dict[str, str]
) -> None:
    created = {k: engine.retrieve(ENV, v)["created_at"] for k, v in runs.items()}
    pages = every_page(engine, 1, created_after=created["b1"], created_before=created["b5"])
    assert [run for page in pages for run in page] == names(runs, "a4", "b3", "a2", "b1")


def test_counts_include_the_executing_runs(engine: Engine, runs: dict[str, str]) -> None:
    assert data.active_counts(engine, ENV) == {"EXECUTING": 3, "QUEUED": 2}
    assert run_metrics.read_counts(engine, ENV).runs == [
        ("a", "EXECUTING", 1), ("a", "QUEUED", 1), ("b", "EXECUTING", 2), ("b", "QUEUED", 1)]


def test_recent_runs_include_the_executing_ones_newest_first(
    engine: Engine, runs: dict[str, str]
) -> None:
    recent = data.recent_runs(engine, ENV, since=0)  # by creation time, newest first
    assert [r["status"] for r in recent] == [
        "QUEUED", "QUEUED", "EXECUTING", "EXECUTING", "EXECUTING", "COMPLETED"]
    by_task = {t["id"]: stats for t, stats in data.tasks_with_stats(engine, ENV)}
    assert (by_task["a"].runs, by_task["b"].runs) == (3, 3)


def test_version_and_batch_reads_include_the_executing_runs(
    engine: Engine, runs: dict[str, str]
) -> None:
    executing = by_id(runs, "b3", "a2", "b1")
    with engine.store.transaction(write=False) as tx:
        pinned = tx.all("pinned_run_counts", environment=ENV)
        active = tx.one("pinned_active_run", environment=ENV, version="v1")
        to_follow = tx.all("dev_runs_to_follow", environment=ENV, version="v2")
        trees = tx.all("retention_batch_trees", batch_ids=[BATCH])
    assert [(r["version"], r["status"], int(r["n"])) for r in pinned] == [
        ("v1", "EXECUTING", 3)]
    assert active is not None and active["id"] in executing
    assert [r["id"] for r in to_follow] == sorted(executing)
    assert sorted(r["tree"] for r in trees) == sorted(runs.values())


def test_searches_find_executing_runs_by_id_and_key_prefix(
    engine: Engine, runs: dict[str, str]
) -> None:
    assert every_page(engine, 1, search="key-b") == [[r] for r in by_id(runs, "b5", "b3", "b1")]
    assert every_page(engine, 2, search="key-a2") == [[runs["a2"]]]
    assert every_page(engine, 2, search=runs["b3"]) == [[runs["b3"]]]
    assert runs["b3"] in [r for page in every_page(engine, 2, search=runs["b3"][:-6])
                          for r in page]
