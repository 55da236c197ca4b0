"""``outlast runs cancel|replay`` by filter and ``outlast bulk``, on the test database.

The client talks to the database in process; the bulk action itself is worked through by
whoever holds upkeep, here an ``Upkeep`` started by the test, as a server would run it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun, bulk_work
from outlast.store import open_store
from outlast.upkeep import Upkeep

from .conftest import Invoke


@pytest.fixture
def database(store_url: str, project: object,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    store = open_store(store_url)
    engine = Engine(store)
    engine.register_tasks("dev", [TaskDefinition(id=t, queue=t) for t in ("report", "mail")])
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)
    yield engine
    store.close()


def _trigger(engine: Engine, task: str, n: int) -> list[str]:
    return [engine.trigger("dev", NewRun(task, json.dumps(i), TriggerOptions())).row["id"]
            for i in range(n)]


def _statuses(engine: Engine, ids: list[str]) -> set[str]:
    return {engine.retrieve("dev", r)["status"] for r in ids}


def test_dry_run_counts_and_changes_nothing(outlast: Invoke, database: Engine) -> None:
    ids = _trigger(database, "report", 3)
    _trigger(database, "mail", 1)
    result = outlast("runs", "cancel", "--task", "report", "--since", "1h", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("3 runs match task=report created_after=")
    assert _statuses(database, ids) == {"QUEUED"}
    assert database.bulk.list("dev") == ([], None)


def test_no_at_the_question_changes_nothing(outlast: Invoke, database: Engine) -> None:
    ids = _trigger(database, "report", 2)
    result = outlast("runs", "cancel", "--task", "report", input="n\n")
    assert result.exit_code == 1
    assert "Cancel all 2?" in result.stderr
    assert _statuses(database, ids) == {"QUEUED"} and database.bulk.list("dev") == ([], None)


def test_yes_creates_it_and_shows_progress_until_done(outlast: Invoke, database: Engine) -> None:
    ids = _trigger(database, "report", 3)
    others = _trigger(database, "mail", 2)
    upkeep = Upkeep(database)
    upkeep.start()
    try:
        result = outlast("runs", "cancel", "--status", "queued", "--task", "report", "--yes")
    finally:
        upkeep.stop()
    assert result.exit_code == 0, result.output
    assert "3/3 processed (3 succeeded, 0 skipped, 0 failed)" in result.stdout
    assert " COMPLETED" in result.stdout
    assert _statuses(database, ids) == {"CANCELED"} and _statuses(database, others) == {"QUEUED"}


def test_replay_no_wait_then_bulk_show_list_and_abort(outlast: Invoke, database: Engine) -> None:
    [run_id] = _trigger(database, "mail", 1)
    database.cancel("dev", run_id)
    result = outlast("runs", "replay", "--status", "CANCELED", "--payload", '{"v": 2}',
                     "--yes", "--no-wait")
    assert result.exit_code == 0, result.output
    action_id = result.stdout.strip().splitlines()[-1]
    assert action_id.startswith("bulk_")
    bulk_work.run_to_end(database)
    shown = outlast("bulk", "show", action_id)
    assert "1/1 processed (1 succeeded" in shown.stdout and "status=CANCELED" in shown.stdout
    listed = outlast("bulk", "list")
    assert action_id in listed.stdout and "COMPLETED" in listed.stdout
    runs, _ = database.list_runs("dev", status=["QUEUED"])
    assert [(r["replayed_from"], r["payload"]) for r in runs] == [(run_id, {"v": 2})]
    aborted = outlast("bulk", "abort", action_id)  # already done: answered as it is
    assert "COMPLETED" in aborted.stdout


def test_a_filter_is_needed_and_not_with_an_id(outlast: Invoke, database: Engine) -> None:
    assert outlast("runs", "cancel").exit_code == 2
    [run_id] = _trigger(database, "mail", 1)
    both = outlast("runs", "cancel", run_id, "--task", "mail")
    assert both.exit_code == 2 and "not both" in both.stderr
    assert outlast("bulk", "show", "bulk_unknown").exit_code == 1
