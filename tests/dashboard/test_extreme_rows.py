"""A page shows what it can and never fails because of one row.

Rows are written through the engine or the store directly, as an older version accepted
them: a token timing out in 1e300 seconds (or never: infinity), a run delayed to 1e300.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from outlast.core.options import TriggerOptions
from outlast.engine import Engine, NewRun
from outlast.engine.triggering import build_row

EXTREMES = [math.inf, 1e300, -1e300]
IDS = ["inf", "1e300", "-1e300"]


def insert_old_run(engine: Engine, available_at: float) -> str:
    definition = engine.definition("dev", "hello-world")
    row = build_row("dev", definition, NewRun("hello-world", "null", TriggerOptions()),
                    engine.clock.now())
    row.update(status="DELAYED", available_at=available_at, queued_at=None,
               ttl=available_at, expires_at=available_at, max_duration=available_at)
    with engine.store.transaction() as tx:
        tx.run("insert_run", **row)
    return str(row["id"])


@pytest.mark.parametrize("timeout", [1e300, math.inf, 99999999999999 * 604800.0],
                         ids=["1e300", "inf", "99999999999999w"])
def test_tokens_page_shows_a_token_with_a_huge_timeout(dash: Any, engine: Engine,
                                                       timeout: float) -> None:
    normal = engine.durable.new_token("dev", 60, [], None)["id"]
    huge = engine.durable.new_token("dev", timeout, [], None)["id"]
    page = dash.get("/tokens")
    assert page.status_code == 200, page.text[-2000:]
    assert normal in page.text and huge in page.text


@pytest.mark.parametrize("at", EXTREMES, ids=IDS)
def test_run_page_and_runs_list_show_a_run_delayed_beyond_any_date(
        dash: Any, engine: Engine, at: float) -> None:
    run_id = insert_old_run(engine, at)
    page = dash.get(f"/runs/{run_id}")
    assert page.status_code == 200, page.text[-2000:]
    assert run_id in page.text
    listing = dash.get("/")
    assert listing.status_code == 200, listing.text[-2000:]
    assert run_id in listing.text
    for path in ("/overview", "/queues", "/queues/hello-world", "/tasks/hello-world"):
        assert dash.get(path).status_code == 200, path
