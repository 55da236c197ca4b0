"""``outlast versions list|show|promote|retire`` against a real database (both stores)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.store import open_store
from tests.conftest import trigger_run
from tests.versions.support import add_version, live_worker, pin

Cli = Callable[..., Any]


@pytest.fixture
def live_engine(store_url: str) -> Iterator[Engine]:
    """An engine on the real clock: the command judges workers live by the real time."""
    store = open_store(store_url)
    yield Engine(store)
    store.close()


@pytest.fixture
def pinned(live_engine: Engine) -> str:
    """v1 with a worker and a waiting run pinned to it; v2 current. The run's id."""
    add_version(live_engine, "v1", ["hello"])
    live_worker(live_engine, "worker-1", "v1")
    run_id = str(trigger_run(live_engine, "hello", delay="1h").row["id"])
    pin(live_engine, run_id, "v1")
    add_version(live_engine, "v2", ["hello", "other"])
    return run_id


def _rows(output: str) -> dict[str, list[str]]:
    """The table's rows by version, each split on runs of two spaces or more."""
    lines = [[c.strip() for c in line.split("  ") if c.strip()] for line in
             output.splitlines()]
    return {cells[0]: cells for cells in lines[1:] if cells}


def test_list_shows_what_is_safe_to_stop(cli_on_store: Cli, live_engine: Engine,
                                         pinned: str) -> None:
    result = cli_on_store("versions", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == [
        "VERSION", "STATE", "SOURCE", "TASKS", "LIVE", "WORKERS", "PINNED", "RUNS", "SAFE",
        "TO", "STOP"]
    rows = _rows(result.stdout)
    assert rows["v1"] == ["v1", "draining", "worker", "1", "1", "1 (1 DELAYED)", "no"]
    assert rows["v2"] == ["v2", "current", "worker", "2", "0", "0", "no"]
    live_engine.cancel("dev", pinned)
    assert _rows(cli_on_store("versions", "list").stdout)["v1"][-2:] == ["0", "yes"]


def test_show_promote_and_retire(cli_on_store: Cli, live_engine: Engine,
                                 pinned: str) -> None:
    shown = cli_on_store("versions", "show", "v1")
    assert shown.exit_code == 0, shown.output
    assert "tasks: hello" in shown.stdout
    assert "worker-1" in shown.stdout and "box" in shown.stdout

    refused = cli_on_store("versions", "retire", "v1")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: cannot retire: version v1 still has 1 unfinished")
    assert "outlast runs move ID --version V" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1

    live_engine.cancel("dev", pinned)
    retired = cli_on_store("versions", "retire", "v1")
    assert retired.exit_code == 0, retired.output
    assert _rows(retired.stdout)["v1"][1] == "retired"
    promoted = cli_on_store("versions", "promote", "v1")
    assert _rows(promoted.stdout)["v1"][1] == "current"
    assert _rows(cli_on_store("versions", "list").stdout)["v2"][1] == "draining"


def test_errors_are_one_line(cli_on_store: Cli, pinned: str) -> None:
    unknown = cli_on_store("versions", "show", "v9")
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith("error: no version 'v9' in environment 'dev'")
    bad = cli_on_store("versions", "promote", "v1!")
    assert bad.exit_code == 2
    assert "is not a version name" in bad.stderr
    current = cli_on_store("versions", "retire", "v2")
    assert current.exit_code == 1 and "v2 is current" in current.stderr


def test_no_versions_yet(cli_on_store: Cli) -> None:
    result = cli_on_store("versions", "list")
    assert result.exit_code == 0
    assert "no versions" in result.stderr
