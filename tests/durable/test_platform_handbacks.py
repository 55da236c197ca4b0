"""An attempt handed back for a platform error costs the run nothing; only a run the
platform could not carry through ``MAX_PLATFORM_HANDBACKS`` times ends SYSTEM_FAILURE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.engine import Engine, Outcome
from outlast.engine.attempts import MAX_PLATFORM_HANDBACKS, PLATFORM_ERROR
from outlast.sdk.retry import Retry
from tests.conftest import definition

ERROR = {"type": PLATFORM_ERROR, "message": "the database is unavailable"}


def hand_back_once(engine: Engine) -> dict[str, Any]:
    row = engine.claim("dev", "worker-1", None, 1)[0]
    assert row["attempt_count"] == 1  # every hand-back gave its attempt back
    engine.record([Outcome(row["id"], row["lease_id"], 1, "platform_error", 0.5,
                           error=ERROR)])
    return engine.retrieve("dev", row["id"])


def test_platform_handbacks_charge_nothing_until_the_platform_gives_up(
        engine: Engine, register: Callable[..., Any], trigger: Callable[..., Any]) -> None:
    register(engine, definition("once", retry=Retry(max_attempts=1)))
    run_id = trigger(engine, "once").row["id"]
    for _ in range(MAX_PLATFORM_HANDBACKS - 1):
        run = hand_back_once(engine)
        assert run["status"] == "QUEUED" and run["attempts"] == 0
    run = hand_back_once(engine)
    assert run["status"] == "SYSTEM_FAILURE" and run["is_final"]
    assert run["error"] == ERROR
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert kinds.count("release") == MAX_PLATFORM_HANDBACKS - 1
    assert kinds[-1] == "system_failure"
