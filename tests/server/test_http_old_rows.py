"""Rows written before times were range-checked (an infinite or far-away ``available_at``,
a token timing out in 1e300 seconds) must not break listings for everyone.

They are inserted through the store directly, as an older version accepted them; the API
then shows what it can (a time outside 1970-9999 is ``null``) and answers 200.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from outlast.cli.main import cli
from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import build_row

if TYPE_CHECKING:
    from tests.server.conftest import LiveServer

API = "/api/v1"
BAD_TIMES = [math.inf, 1e300, -1e300]


def insert_old_run(engine: Engine, available_at: float) -> str:
    """A DELAYED run whose start is ``available_at``, written without any check."""
    definition = engine.definition("dev", "hello")
    row = build_row("dev", definition, NewRun("hello", "null", TriggerOptions()),
                    engine.clock.now())
    row.update(status="DELAYED", available_at=available_at, queued_at=None)
    with engine.store.transaction() as tx:
        tx.run("insert_run", **row)
    return str(row["id"])


@pytest.mark.parametrize("at", BAD_TIMES, ids=["inf", "1e300", "-1e300"])
def test_an_old_run_with_a_bad_time_does_not_break_the_runs_list(
        client: TestClient, engine: Engine, at: float) -> None:
    good = client.post(f"{API}/tasks/hello/trigger", json={}).json()["id"]
    old = insert_old_run(engine, at)
    listing = client.get(f"{API}/runs")
    assert listing.status_code == 200, listing.text
    assert {r["id"] for r in listing.json()["data"]} == {good, old}
    one = client.get(f"{API}/runs/{old}")
    assert one.status_code == 200, one.text
    assert one.json()["available_at"] is None  # outside 1970-9999: not a time to show
    assert client.post(f"{API}/runs/{old}/cancel").status_code == 200
    assert client.get(f"{API}/runs").status_code == 200


def test_a_token_with_an_infinite_timeout_does_not_break_the_tokens_list(
        client: TestClient, engine: Engine) -> None:
    token = engine.durable.new_token("dev", math.inf, [], None)
    listing = client.get(f"{API}/waitpoints/tokens")
    assert listing.status_code == 200, listing.text
    assert [t["timeout_at"] for t in listing.json()["data"]] == [None]
    assert client.get(f"{API}/waitpoints/tokens/{token['id']}").status_code == 200



def test_outlast_runs_list_and_show_an_old_run_over_http(
        engine: Engine, live_server: LiveServer, dev_key: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    old = insert_old_run(engine, math.inf)
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("OUTLAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OUTLAST_API_URL", live_server.url)
    monkeypatch.setenv("OUTLAST_API_KEY", dev_key)
    for args in (["runs", "list"], ["runs", "show", old]):
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert old in result.output
