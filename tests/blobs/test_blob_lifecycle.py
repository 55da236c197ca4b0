"""What happens to blobs over a run's life, on both stores: over the configured maximum a
value is refused (413) or fails its attempt; a pruned run's blobs go with it; an orphan
(a blob whose run never committed) is collected once a day old."""

from __future__ import annotations

import json
from typing import Any

import pytest

from outlast import Retry, step, task, wait
from outlast.core.retention import DAY
from outlast.core.settings import Settings
from outlast.engine import Engine, Outcome
from outlast.errors import PayloadTooLargeError
from outlast.sdk.registry import Registry
from outlast.server.app import create_app
from outlast.testing import TestRuns
from tests.blobs.conftest import MB
from tests.blobs.test_blob_runs import TestClient
from tests.conftest import definition
from tests.worker.support import trigger

reg = Registry()
SMALL_MAX = Settings(max_payload_bytes=2 * MB)


@task(registry=reg)
def keeps_everything(payload: dict[str, Any]) -> str:
    step.run("big-step", lambda: "s" * MB)
    answer = wait.for_token(wait.create_token(timeout="1h", tags=["big"]))
    return "o" * MB + str(len(answer.output))


@pytest.fixture
def runs(store_url: str) -> Any:
    with TestRuns(reg, database_url=store_url) as env:
        yield env


def test_a_pruned_runs_blobs_go_with_it(runs: TestRuns) -> None:
    blobs = runs.engine.blobs.store
    handle = runs.run(keeps_everything, {"data": "p" * MB})
    [token] = [t for t in runs.tokens(handle.id) if "big" in t.tags]
    runs.complete_token(token.id, "t" * MB)
    assert runs.run_until_final(handle.id).status == "COMPLETED"
    assert blobs.owners() == [handle.id]  # payload, step, token, output
    runs.advance(31 * DAY)
    report = runs.engine.retention.prune(runs.environment)
    assert report.runs == 1 and report.blobs == 1
    assert blobs.owners() == []


def test_an_orphan_is_collected_once_a_day_old(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t")])
    kept = trigger(engine, "t", "k" * MB)
    engine.blobs.store.put("run_neverCommitted/payload-x", b'"orphan"')
    assert engine.retention.orphans() == 0  # a young blob may be a commit in flight
    assert engine.retention.orphans(older_than=0) == 1
    assert engine.blobs.store.owners() == [kept]
    chunks, _ = engine.run_value("dev", kept, "payload")
    assert json.loads(b"".join(chunks)) == "k" * MB


@pytest.mark.parametrize("engine_settings", [SMALL_MAX])
def test_over_the_configured_maximum_a_trigger_is_413(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t")])
    app = create_app(engine, dev_api_key="ol_dev_k", scheduler=False)
    with TestClient(app, headers={"Authorization": "Bearer ol_dev_k"}) as http:
        r = http.post("/api/v1/tasks/t/trigger", json={"payload": "x" * (2 * MB + 10)})
        ok = http.post("/api/v1/tasks/t/trigger", json={"payload": "x" * (2 * MB - 10)})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    assert "OUTLAST_MAX_PAYLOAD_BYTES" in r.json()["error"]["message"]
    assert ok.status_code == 201
    assert engine.list_runs("dev")[0][0]["payload_size"] == 2 * MB - 8


@pytest.mark.parametrize("engine_settings", [SMALL_MAX])
def test_an_output_over_the_maximum_fails_its_attempt(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t", retry=Retry(max_attempts=1))])
    run_id = trigger(engine, "t", None)
    [row] = engine.claim("dev", "w1", None, 1)
    engine.record([Outcome(run_id, row["lease_id"], 1, "completed", output="o" * (3 * MB))])
    run = engine.retrieve("dev", run_id)
    assert run["status"] == "FAILED"
    assert run["error"]["type"] == "PayloadTooLargeError"
    assert "limit is 2097152" in run["error"]["message"]


def test_a_value_shaped_like_a_reference_is_kept_apart_never_trusted(engine: Engine) -> None:
    engine.register_tasks("dev", [definition("t")])
    forged = {"$blob": "run_other/payload-secret", "size": 3}
    run_id = trigger(engine, "t", forged)
    assert engine.retrieve("dev", run_id)["payload"] is None  # a blob, however small
    chunks, _ = engine.run_value("dev", run_id, "payload")
    assert json.loads(b"".join(chunks)) == forged


def test_the_blob_limit_is_a_clear_error_for_a_value(engine: Engine) -> None:
    small = engine.blobs.__class__(engine.blobs.store, 10, 100)
    with pytest.raises(PayloadTooLargeError, match="limit is 100"):
        small.keep_text("run_x", "payload", "x" * 101)
