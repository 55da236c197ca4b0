"""A hook's own error, on the run it belongs to: one ``hook_error`` run event each.

A hook that raises never changes how a run ends (``outlast.worker.lifecycle``); the
worker logs it on the run and reports it with the attempt's outcome (or the hook job's
end), and the engine appends the events in the transaction that records those, so the
timeline shows which hook failed, with its error, beside the run's own ending.
"""

from __future__ import annotations

from typing import Any

from outlast.core.outcomes import Outcome
from outlast.engine import events
from outlast.store.protocol import Tx

KIND = "hook_error"


def after_outcomes(tx: Tx, outcomes: list[Outcome], now: float) -> None:
    """The hook errors of outcomes just recorded (stale ones are left out by the caller)."""
    for outcome in outcomes:
        if outcome.hook_errors:
            append(tx, outcome.run_id, list(outcome.hook_errors), now)


def append(tx: Tx, run_id: str, errors: list[dict[str, Any]], now: float) -> None:
    row = tx.one("lock_run", id=run_id)
    if row is None:
        return
    for error in errors:
        events.run_changed(tx, row, KIND, now, hook=error.get("hook"),
                           function=error.get("function"),
                           error={"type": error.get("type"), "message": error.get("message")})
