"""A replay with the journal handed over at the claim asks its worker for nothing."""

from __future__ import annotations

from typing import Any

from outlast.core.durable_requests import DurableRequest
from outlast.sdk.durable import DurableRun


def test_a_journal_given_up_front_is_replayed_without_asking() -> None:
    asked: list[str] = []

    def runtime(request: DurableRequest) -> Any:
        asked.append(request.op)
        return []

    entry = {"seq": 0, "kind": "sleep", "name": "sleep", "status": "ok",
             "result": {"until": 1.0}}
    given = DurableRun("run_1", "lease_1", 1, "dev", runtime, journal=[entry])
    assert given.call("sleep", "sleep", lambda at: None) == {"until": 1.0}
    assert asked == []
    loaded = DurableRun("run_1", "lease_1", 1, "dev", runtime)
    assert loaded.call("step", "s", lambda at: "fresh") == "fresh"
    assert asked == ["journal"]
