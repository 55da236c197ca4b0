"""A resumed run's replay does not record its log lines again, with a real worker."""

from __future__ import annotations

from collections import Counter

from outlast.engine import Engine
from outlast.store import Store
from tests.eventually import eventually
from tests.worker.support import running_worker, trigger, wait_final, wait_status


def test_a_retried_and_resumed_run_logs_each_replayed_line_once(store: Store) -> None:
    engine = Engine(store, lease_seconds=3)
    with running_worker(engine):
        run_id = trigger(engine, "logs-around-waits")
        wait_status(engine, run_id, "WAITING")
        tokens = eventually(lambda: engine.durable.list_tokens("dev", run_id=run_id)[0],
                            30, "the run's token")
        engine.durable.complete_token("dev", tokens[0]["id"], {"ok": True})
        run = wait_final(engine, run_id)
    assert (run["status"], run["output"], run["attempts"]) == ("COMPLETED", 3, 2), run["error"]
    lines = Counter(entry["message"] for entry in engine.logs(run_id))
    # the second attempt and the resume replay up to the last recorded operation
    assert lines["start"] == lines["printed start"] == lines["logged start"] == 1
    # written past the journal's end (only step "a" was recorded) by the retry: live again
    assert lines["between"] == 2
    assert lines["after"] == 1
