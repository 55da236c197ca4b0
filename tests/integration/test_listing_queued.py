"""QUEUED runs in lists and counts, on both stores.

PostgreSQL's list indexes leave QUEUED runs out (its migration 0029), so there a page in id
order reads them apart, from runs_queued, one (task, queue) pair at a time, and merges them
with the others (``listing.status_parts``; PostgreSQL's own count queries); SQLite reads
them with the others. These pin what a reader sees on both, which is what it saw before:
every run once, newest first, on the page where it belongs, whichever filter, sort, search
or page size, and counts that include the QUEUED runs.
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

from .test_listing_executing import ENV, WORKER, by_id, every_page, names

CODE = WorkerCode("v1", ("a", "b"))
#: each run: (task, queue, tags); created a minute apart in this order
MADE = {"a0": ("a", "qa", ["old"]), "b1": ("b", "qb", []), "a2": ("a", "qa", ["t"]),
        "b3": ("b", "qb", ["t"]), "a4": ("a", "qb", ["t"]), "b5": ("b", "qb", []),
        "a6": ("a", "qa", []), "c7": ("c", "qc", ["t"])}


@pytest.fixture
def runs(engine: Engine, clock: FakeClock) -> dict[str, str]:
    """Tasks a (queue qa), b (qb) and c (qc): a0 completed, b1 EXECUTING, the others
    QUEUED; a4 is task a's in queue qb (a task's QUEUED runs in two queues), a6 is a0's
    child and c7 a2's. Each run's idempotency key is ``key-<name>``."""
    engine.register_tasks(ENV, [TaskDefinition(id=t, queue=f"q{t}") for t in "abc"])
    made: dict[str, str] = {}
    for i, (name, (task, queue, tags)) in enumerate(MADE.items()):
        options = parse_options({"tags": tags, "queue": queue,
                                 "idempotency_key": f"key-{name}"}, clock.now())
        parent = {"a6": "a0", "c7": "a2"}.get(name)
        made[name] = str(engine.trigger(ENV, NewRun(
            task, json.dumps({"i": i, "name": f"payload-{name}"}), options,
            parent_id=made.get(parent or ""), root_id=made.get(parent or ""))).row["id"])
        clock.advance(60)
        if name == "a0":
            [held] = engine.claim(ENV, WORKER, ["qa"], 1, CODE)
            engine.record([Outcome(run_id=held["id"], lease_id=held["lease_id"], attempt=1,
                                   kind="completed", executed=0.1, output=None)])
        if name == "b1":
            assert [r["id"] for r in engine.claim(ENV, WORKER, ["qb"], 1, CODE)] == [
                made["b1"]]
    return made


QUEUED = ("a2", "b3", "a4", "b5", "a6", "c7")


@pytest.mark.parametrize("filters, expected", [
    ({}, (*QUEUED, "b1", "a0")),
    ({"status": ["QUEUED"]}, QUEUED),
    ({"status": ["QUEUED", "COMPLETED"]}, (*QUEUED, "a0")),
    ({"status": ["QUEUED", "EXECUTING"]}, (*QUEUED, "b1")),
    ({"task": "a"}, ("a0", "a2", "a4", "a6")),
    ({"task": "a", "status": ["QUEUED"]}, ("a2", "a4", "a6")),
    ({"queue": "qb"}, ("b1", "b3", "a4", "b5")),
    ({"queue": "qb", "status": ["QUEUED"]}, ("b3", "a4", "b5")),
    ({"task": "a", "queue": "qb"}, ("a4",)),
    ({"task": "a", "queue": "qa"}, ("a0", "a2", "a6")),
    ({"queue": "qc", "status": ["QUEUED"]}, ("c7",)),
    ({"task": "nothing"}, ()),
    ({"tag": "t"}, ("a2", "b3", "a4", "c7")),
    ({"tag": "t", "status": ["QUEUED"]}, ("a2", "b3", "a4", "c7")),
    ({"tag": "t", "task": "a"}, ("a2", "a4")),
    ({"parent_id": "a0"}, ("a6",)),
    ({"root_id": "a2"}, ("c7",)),
    ({"idempotency_key": "key-a4"}, ("a4",)),
    ({"search": "run_"}, (*QUEUED, "b1", "a0")),
    ({"search": "key-a"}, ("a0", "a2", "a4", "a6")),
    ({"search": "t"}, ("a2", "b3", "a4", "c7")),  # the exact tag
    ({"search": "payload-b"}, ("b1", "b3", "b5")),
    ({"search": "payload-b", "status": ["QUEUED"], "queue": "qb"}, ("b3", "b5")),
    ({"sort": "started"}, ("b1", "a0")),  # by that time: runs without it are left out
    ({"sort": "finished"}, ("a0",)),
])
@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_queued_runs_are_listed_in_order_on_their_page(
    engine: Engine, runs: dict[str, str], filters: dict[str, Any],
    expected: tuple[str, ...], limit: int
) -> None:
    filters = {k: runs.get(v, v) if k.endswith("_id") else v for k, v in filters.items()}
    timed = filters.get("sort") in ("started", "finished")
    want = names(runs, *expected) if timed else by_id(runs, *expected)
    pages = [want[i:i + limit] for i in range(0, len(want), limit)] or [[]]
    assert every_page(engine, limit, **filters) == pages


@pytest.mark.parametrize("limit", [1, 3, 100])
def test_a_time_range_lists_queued_runs_by_creation_time(
    engine: Engine, runs: dict[str, str], limit: int
) -> None:
    created = {k: engine.retrieve(ENV, v)["created_at"] for k, v in runs.items()}
    pages = every_page(engine, limit, created_after=created["b1"],
                       created_before=created["c7"])
    assert [run for page in pages for run in page] == names(
        runs, "a6", "b5", "a4", "b3", "a2", "b1")
    assert every_page(engine, limit, created_after=created["b5"], status=["QUEUED"],
                      task="a") == [names(runs, "a6")]


def test_counts_include_the_queued_runs(engine: Engine, runs: dict[str, str]) -> None:
    assert data.active_counts(engine, ENV) == {"EXECUTING": 1, "QUEUED": 6}
    assert run_metrics.read_counts(engine, ENV).runs == [
        ("a", "QUEUED", 3), ("b", "EXECUTING", 1), ("b", "QUEUED", 2), ("c", "QUEUED", 1)]
    recent = data.recent_runs(engine, ENV, since=0)  # by creation time, newest first
    assert [r["status"] for r in recent] == ["QUEUED"] * 6 + ["EXECUTING", "COMPLETED"]
    by_task = {t["id"]: stats for t, stats in data.tasks_with_stats(engine, ENV)}
    assert (by_task["a"].runs, by_task["b"].runs, by_task["c"].runs) == (4, 3, 1)


def test_a_task_page_of_the_dashboard_shows_its_queued_runs_newest_first(
    engine: Engine, runs: dict[str, str]
) -> None:
    with engine.store.transaction(write=False) as tx:
        recent = tx.all("dashboard_task_recent", environment=ENV, task_id="a", limit=3)
    newest = by_id(runs, "a0", "a2", "a4", "a6")[:3]  # the three newest, by id
    assert [r["created_at"] for r in recent] == [
        engine.retrieve(ENV, run)["created_at"] for run in newest]
    assert [r["status"] for r in recent] == ["QUEUED"] * 3
