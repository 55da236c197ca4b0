"""An attempt handed back for a platform error costs the run nothing; only a run the
platform could not carry through ``MAX_PLATFORM_HANDBACKS`` times ends SYSTEM_FAILURE."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.clock import FakeClock
from outlast.core.retry import Retry
from outlast.engine import Engine, Outcome
from outlast.engine.attempts import MAX_PLATFORM_BACKOFF, MAX_PLATFORM_HANDBACKS, PLATFORM_ERROR
from tests.conftest import definition

ERROR = {"type": PLATFORM_ERROR, "message": "the database is unavailable"}


def claim(engine: Engine) -> dict[str, Any]:
    row = engine.claim("dev", "worker-1", None, 1)[0]
    assert row["attempt_count"] == 1  # every hand-back gave its attempt back
    return row


def hand_back(engine: Engine, row: dict[str, Any]) -> dict[str, Any]:
    engine.record([Outcome(row["id"], row["lease_id"], 1, "platform_error", 0.5,
                           error=ERROR)])
    return engine.retrieve("dev", row["id"])


def test_platform_handbacks_charge_nothing_until_the_platform_gives_up(
        engine: Engine, clock: FakeClock, register: Callable[..., Any],
        trigger: Callable[..., Any]) -> None:
    register(engine, definition("once", retry=Retry(max_attempts=1)))
    run_id = trigger(engine, "once").row["id"]
    row = claim(engine)
    for _ in range(MAX_PLATFORM_HANDBACKS - 1):
        run = hand_back(engine, row)
        assert run["status"] == "QUEUED" and run["attempts"] == 0
        assert not engine.claim("dev", "worker-1", None, 1)  # it backs off first
        clock.advance(MAX_PLATFORM_BACKOFF)
        row = claim(engine)
    run = hand_back(engine, row)
    assert run["status"] == "SYSTEM_FAILURE" and run["is_final"]
    assert run["error"] == ERROR
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert kinds.count("release") == MAX_PLATFORM_HANDBACKS - 1
    assert kinds[-1] == "system_failure"
