"""Values past the old 3 MB cap, through a real worker on both stores: a 10 MB payload
reaches the task whole, a 10 MB output is kept and read back through the API and the SDK,
step results and token values over the threshold survive a replay, and a child's large
output reaches its parent. The run rows keep only references."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.engine.blobs import ref_of
from outlast.sdk.client import Client
from outlast.sdk.transports import LocalTransport
from outlast.server.app import create_app
from tests.blobs.conftest import MB, running_worker
from tests.durable.test_worker_durable import token_of
from tests.worker.support import trigger, wait_final, wait_status

with warnings.catch_warnings():
    from starlette.exceptions import StarletteDeprecationWarning

    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

KEY = "ol_dev_blobs"


def row_of(engine: Engine, run_id: str) -> dict[str, Any]:
    with engine.store.transaction(write=False) as tx:
        row = tx.one("get_run", id=run_id, environment="dev")
    assert row is not None
    return row


def api(engine: Engine) -> TestClient:
    return TestClient(create_app(engine, dev_api_key=KEY, scheduler=False),
                      headers={"Authorization": f"Bearer {KEY}"})


def test_a_10_mb_payload_reaches_the_task_whole(live_engine: Engine) -> None:
    data = "p" * (10 * MB - 7) + "the-end"
    with running_worker(live_engine):
        run_id = trigger(live_engine, "blob-measure", {"data": data})
        run = wait_final(live_engine, run_id)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] == {"length": len(data), "head": "pppppppp", "tail": "pthe-end"}
    ref = ref_of(row_of(live_engine, run_id)["payload"])
    assert ref is not None and ref["size"] == len(json.dumps({"data": data}))
    # the run's JSON keeps it out, and says where it is
    assert run["payload"] is None
    assert run["payload_url"] == f"/api/v1/runs/{run_id}/payload"
    assert run["payload_size"] == ref["size"]


def test_a_10_mb_output_is_kept_and_streams_from_the_api_and_the_sdk(
        live_engine: Engine) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "blob-make", {"fill": "o", "size": 10 * MB})
        run = wait_final(live_engine, run_id)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] is None and run["output_url"] == f"/api/v1/runs/{run_id}/output"
    assert run["output_size"] == 10 * MB + 2  # the JSON string's quotes
    assert ref_of(row_of(live_engine, run_id)["output"]) is not None
    with api(live_engine) as http:
        r = http.get(run["output_url"])
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert int(r.headers["content-length"]) == 10 * MB + 2
        assert r.json() == "o" * (10 * MB)
        small = http.get(f"/api/v1/runs/{run_id}/payload")  # inline values are served too
        assert small.json() == {"fill": "o", "size": 10 * MB}
    sdk_run = Client(transport=LocalTransport(live_engine, "dev")).runs.retrieve(run_id)
    assert sdk_run.output == "o" * (10 * MB)
    assert sdk_run.payload == {"fill": "o", "size": 10 * MB}


def test_a_large_step_result_and_token_value_are_read_back_on_replay(
        live_engine: Engine) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "blob-step-and-token", {"size": 2 * MB})
        wait_status(live_engine, run_id, "WAITING")
        token = token_of(live_engine, run_id)
        done = live_engine.durable.complete_token("dev", token["id"], {"data": "t" * (3 * MB)})
        assert done["output"] == {"data": "t" * (3 * MB)}  # the answer is the value itself
        run = wait_final(live_engine, run_id)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] == {"step": 2 * MB, "step_head": "sss",
                             "token": 3 * MB, "token_head": "ttt"}
    with live_engine.store.transaction(write=False) as tx:
        stored = tx.all("list_journal", run_id=run_id)
        kept = tx.one("get_waitpoint", id=token["id"])
    assert ref_of(stored[0]["result"]) is not None  # the step's result: a reference
    assert kept is not None and ref_of(kept["output"]) is not None
    steps = live_engine.durable.run_journal_resolved(run_id)
    assert steps[0]["result"] == "s" * (2 * MB)
    assert steps[-1]["result"]["output"] == {"data": "t" * (3 * MB)}
    over_http = api(live_engine).get(f"/api/v1/runs/{run_id}/journal").json()["data"]
    assert over_http[0]["result"] == "s" * (2 * MB)  # what `outlast runs debug` replays


def test_a_childs_large_output_reaches_its_parent(live_engine: Engine) -> None:
    with running_worker(live_engine):
        run_id = trigger(live_engine, "blob-parent", {"size": 4 * MB})
        run = wait_final(live_engine, run_id, 60)
    assert run["status"] == "COMPLETED", run["error"]
    assert run["output"] == {"length": 4 * MB, "head": "ccc"}


def test_a_replay_copies_a_large_payload_into_its_own_blob(live_engine: Engine) -> None:
    with running_worker(live_engine):
        first = trigger(live_engine, "blob-measure", {"data": "r" * MB})
        wait_final(live_engine, first)
        again = str(live_engine.replay("dev", first).row["id"])
        run = wait_final(live_engine, again)
    assert run["output"]["length"] == MB
    mine, theirs = (ref_of(row_of(live_engine, r)["payload"]) for r in (again, first))
    assert mine is not None and theirs is not None
    assert mine["$blob"].startswith(f"{again}/") and theirs["$blob"].startswith(f"{first}/")


@pytest.mark.parametrize("size", [0, 100, 600 * 1024])
def test_values_under_the_threshold_stay_inline_and_over_it_go_apart(
        engine: Engine, size: int) -> None:
    from tests.conftest import definition

    engine.register_tasks("dev", [definition("t")])
    run_id = trigger(engine, "t", "x" * size)
    kept = ref_of(row_of(engine, run_id)["payload"])
    assert (kept is not None) == (size > 512 * 1024)
    assert engine.blobs.text(row_of(engine, run_id)["payload"]) == json.dumps("x" * size)
