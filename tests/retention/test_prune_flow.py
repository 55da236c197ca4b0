"""Retention as users meet it: real tasks run through ``outlast.testing`` on both stores,
the clock moves on, and pruning deletes finished trees with every row of theirs while a
tree that still waits keeps all its runs."""

from __future__ import annotations

from typing import Any

import pytest

from outlast import RunNotFoundError, logger, metadata, step, streams, tags, task, wait
from outlast.core.retention import DAY
from outlast.engine.pruning import TABLES
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from tests.retention.support import all_run_ids, rows_of

reg = Registry()


@task(registry=reg)
def leaf(payload: int) -> int:
    logger.info("leaf ran", n=payload)
    streams.append("progress", {"n": payload})
    metadata.set("n", payload)
    tags.add(f"leaf:{payload}")
    return payload


@task(registry=reg)
def whole_tree(payload: Any) -> str:
    step.run("prepare", lambda: 1)
    wait.create_token(timeout="1h")  # nobody waits on it: it goes with its run
    wait.for_token(wait.create_token(timeout="30d", tags=["approval"]))
    wait.sleep(hours=1)
    leaf.trigger_and_wait(1).unwrap()
    leaf.batch_trigger_and_wait([{"payload": 2}, {"payload": 3}])
    leaf.trigger(4)
    return "done"


@task(registry=reg)
def waits_on_a_person(payload: Any) -> str:
    leaf.trigger_and_wait(10).unwrap()
    wait.for_token(wait.create_token(tags=["person"]))  # no timeout: waits until answered
    return "answered"


@task(registry=reg, retention="7d")
def short_lived(payload: Any) -> str:
    return "ok"


@task(registry=reg, retention="1d")
def hands_out_a_token(payload: Any) -> str:
    return wait.create_token(tags=["handoff"]).id


@task(registry=reg)
def waits_on_a_token(token_id: str) -> str:
    wait.for_token(token_id)
    return "answered"


def tree_ids(runs: TestRuns, root_id: str) -> list[str]:
    children, _ = runs.engine.list_runs(runs.environment, root_id=root_id, limit=100)
    return [root_id, *(c["id"] for c in children)]


def approve(runs: TestRuns, run_id: str, tag: str) -> None:
    [token] = [t for t in runs.tokens(run_id) if tag in t.tags]
    runs.complete_token(token.id, {"ok": True})


@pytest.fixture
def runs(store_url: str) -> Any:
    with TestRuns(reg, database_url=store_url) as env:
        yield env


def test_a_finished_tree_goes_with_every_row_after_its_retention(
        runs: TestRuns, store_url: str) -> None:
    root = runs.run(whole_tree)
    approve(runs, root.id, "approval")
    assert runs.run_until_final(root.id).status == "COMPLETED"
    ids = tree_ids(runs, root.id)
    assert len(ids) == 5  # the root and four leaves
    before = rows_of(store_url, ids)
    assert all(before[t] > 0 for t in ("runs", "run_events", "run_logs", "attempts",
                                       "run_journal", "run_tags", "run_stream_chunks",
                                       "waitpoints")), before

    runs.advance(29 * DAY)
    assert runs.engine.retention.prune(runs.environment).runs == 0
    assert rows_of(store_url, ids) == before

    runs.advance(2 * DAY)
    dry = runs.engine.retention.prune(runs.environment, dry_run=True)
    assert rows_of(store_url, ids) == before  # a dry run deletes nothing
    report = runs.engine.retention.prune(runs.environment)
    assert report.rows == dry.rows
    assert {t: report.rows[t] for t in before} == before
    assert rows_of(store_url, ids) == dict.fromkeys(before, 0)
    with pytest.raises(RunNotFoundError):
        runs.retrieve(root.id)
    assert runs.engine.retention.prune(runs.environment).runs == 0  # nothing left to do


def test_a_finished_child_stays_while_its_parent_waits(runs: TestRuns, store_url: str) -> None:
    parent = runs.run(waits_on_a_person)
    assert parent.status == "WAITING"
    ids = tree_ids(runs, parent.id)
    assert [runs.retrieve(i).status for i in ids] == ["WAITING", "COMPLETED"]
    kept = rows_of(store_url, ids)

    runs.advance(200 * DAY)
    assert runs.engine.retention.prune(runs.environment).total == 0
    assert rows_of(store_url, ids) == kept  # the parent's token too

    approve(runs, parent.id, "person")
    assert runs.run_until_final(parent.id).status == "COMPLETED"
    runs.advance(29 * DAY)
    assert runs.engine.retention.prune(runs.environment).runs == 0  # counted from the end
    runs.advance(2 * DAY)
    assert runs.engine.retention.prune(runs.environment).runs == 2
    assert all_run_ids(store_url) == set()


def test_a_task_keeps_its_runs_as_long_as_it_says(runs: TestRuns, store_url: str) -> None:
    short = runs.run(short_lived)
    default = runs.run(leaf, 5)
    runs.advance(8 * DAY)
    report = runs.engine.retention.prune(runs.environment)
    assert report.runs == 1
    assert all_run_ids(store_url) == {default.id}
    assert set(report.rows) == set(TABLES)
    assert short.id not in all_run_ids(store_url)


def test_a_token_a_live_run_waits_on_outlives_the_run_that_made_it(
        runs: TestRuns, store_url: str) -> None:
    maker = runs.run(hands_out_a_token)
    token_id = maker.output
    waiter = runs.run(waits_on_a_token, token_id)
    assert waiter.status == "WAITING"
    runs.advance(3 * DAY)
    assert runs.engine.retention.prune(runs.environment).runs == 1
    assert all_run_ids(store_url) == {waiter.id}
    [token] = runs.tokens()  # the maker is gone; the token the waiter needs is not
    assert token.id == token_id
    runs.complete_token(token_id, {"ok": True})
    assert runs.run_until_final(waiter.id).status == "COMPLETED"
    runs.advance(31 * DAY)
    assert runs.engine.retention.prune(runs.environment).rows["waitpoints"] == 1
    assert runs.tokens(status=None) == []
