"""Failures made the way a worker records them: claim the runs, report their attempts."""

from __future__ import annotations

from typing import Any

from outlast.clock import FakeClock
from outlast.engine import Engine
from tests.conftest import trigger_run
from tests.integration.support import outcome

#: past any retry delay of the default policy (at most 30 s)
PAST_RETRY_DELAY = 60.0


def error(message: str, kind: str = "ValueError") -> dict[str, Any]:
    return {"type": kind, "message": message,
            "stack": f"Traceback (most recent call last):\n  File \"tasks.py\", line 3\n"
                     f"{kind}: {message}\n"}


def attempt(engine: Engine, kind: str = "completed", **fields: Any) -> list[str]:
    """End the attempt of every run due in ``dev`` as ``kind``."""
    claimed = engine.claim("dev", "worker-1", None, 100)
    decided = engine.record([outcome(row, kind, **fields) for row in claimed])
    assert all(d is not None for d in decided), decided
    return [str(row["id"]) for row in claimed]


def fail_run(engine: Engine, task: str, message: str, kind: str = "ValueError",
             **options: Any) -> str:
    """Trigger a run of ``task`` and fail its first attempt with ``kind: message``."""
    run_id = str(trigger_run(engine, task, {"n": 1}, **options).row["id"])
    claimed = {str(row["id"]): row for row in engine.claim("dev", "worker-1", None, 100)}
    # any other run due again is handed back: that is no failure, and spends no attempt
    decided = engine.record([
        outcome(row, "failed", error=error(message, kind)) if row_id == run_id
        else outcome(row, "released") for row_id, row in claimed.items()])
    assert run_id in claimed and all(d is not None for d in decided), decided
    return run_id


def retry_due(clock: FakeClock) -> None:
    clock.advance(PAST_RETRY_DELAY)
