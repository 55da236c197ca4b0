"""How an attempt ended, as the child reports it and the engine records it.

Shared by both sides: a worker's child builds an ``Outcome`` when its attempt ends (and
asks ``is_final_failure`` to know whether to call ``on_failure``), and the engine
(``engine/attempts.py``) decides and writes what follows. Kept out of the engine so that
a child, which never touches the database, does not load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from outlast.core.quick_init import quick

#: the error type of a platform hand-back, in its outcome and its ``release`` event
PLATFORM_ERROR = "PlatformUnavailable"

OutcomeKind = Literal[
    "completed", "failed", "aborted", "crashed", "oom", "timed_out", "released", "suspended",
    "platform_error", "parked",
]


@quick  # made per attempt, in the worker's child and again in its supervisor
@dataclass(frozen=True)
class Outcome:
    run_id: str
    lease_id: str
    attempt: int
    kind: OutcomeKind
    executed: float = 0.0
    output: Any = None
    error: dict[str, Any] | None = None
    #: from ``handle_error``: False = do not retry; a number = retry after that many seconds
    retry_override: bool | float | None = None
    #: set when the child already ran the final hooks (so the engine need not queue them)
    hooks_done: bool = False
    #: the machine the attempt ran on, when the caller knows it (prices a batch completion)
    machine: str | None = None
    #: from ``handle_error``: retry at this time (seconds since the epoch) ...
    retry_at: float | None = None
    #: ... and/or on this machine preset (from then on)
    retry_machine: str | None = None
    #: the attempt's hooks that raised ({"hook", "function", "type", "message"}): each
    #: becomes a ``hook_error`` run event (``hook_reports``)
    hook_errors: tuple[dict[str, Any], ...] = ()


def is_final_failure(outcome: Outcome, max_attempts: int) -> bool:
    """Will this failed outcome end the run? (The child uses it to call ``on_failure``.)"""
    if outcome.kind == "parked":
        return False
    if outcome.kind in ("aborted", "timed_out") or outcome.retry_override is False:
        return True
    return outcome.attempt >= max_attempts
