"""Run statuses, the allowed transitions between them, and pure predicates about them.

``FAILED``, ``CRASHED`` and ``TIMED_OUT`` are the task's own ends: its code raised, its
process died, or it ran too long, after its retries. ``SYSTEM_FAILURE`` is the platform's
end: the platform could not carry the run through, for reasons that are not the task's
(its attempts were handed back for platform errors ``MAX_PLATFORM_HANDBACKS`` times, see
``attempts.py``); a platform error never spends one of the task's attempts on the way.

``PARKED`` is neither: replaying the run's journal met code that no longer matches it (a
step renamed, moved or removed since the run started). Retrying the same code could only
fail the same way, and failing would throw away the work the journal holds, so the run
stops, active and uncharged, until an operator resumes it on code that matches or moves
it to another version (``parking.py``).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    DELAYED = "DELAYED"
    QUEUED = "QUEUED"
    EXECUTING = "EXECUTING"
    WAITING = "WAITING"
    PARKED = "PARKED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    CRASHED = "CRASHED"
    SYSTEM_FAILURE = "SYSTEM_FAILURE"
    EXPIRED = "EXPIRED"
    TIMED_OUT = "TIMED_OUT"


S = RunStatus

FINAL: frozenset[RunStatus] = frozenset(
    {S.COMPLETED, S.FAILED, S.CANCELED, S.CRASHED, S.SYSTEM_FAILURE, S.EXPIRED, S.TIMED_OUT}
)
ACTIVE: frozenset[RunStatus] = frozenset(set(RunStatus) - FINAL)

#: Every allowed change, by name. ``engine/transitions.py`` applies exactly these;
#: each guarded UPDATE uses the ``from`` set below in its ``WHERE status IN (...)``
#: (``transitions.QUERIES`` names the queries; a test checks their SQL against this table).
TRANSITIONS: dict[str, tuple[frozenset[RunStatus], RunStatus | None]] = {
    # name: (from statuses, to status; None = decided by the transition)
    "enqueue_delayed": (frozenset({S.DELAYED}), S.QUEUED),
    "start_attempt": (frozenset({S.QUEUED}), S.EXECUTING),
    "complete": (frozenset({S.EXECUTING}), S.COMPLETED),
    "retry": (frozenset({S.EXECUTING}), S.QUEUED),
    "fail": (frozenset({S.EXECUTING}), S.FAILED),
    "crash": (frozenset({S.EXECUTING}), S.CRASHED),
    "time_out": (frozenset({S.EXECUTING}), S.TIMED_OUT),
    "system_failure": (frozenset({S.EXECUTING}), S.SYSTEM_FAILURE),
    "release": (frozenset({S.EXECUTING}), S.QUEUED),
    "suspend": (frozenset({S.EXECUTING}), S.WAITING),
    "resume": (frozenset({S.WAITING}), S.QUEUED),
    "park": (frozenset({S.EXECUTING}), S.PARKED),
    "unpark": (frozenset({S.PARKED}), S.QUEUED),
    "cancel": (frozenset({S.DELAYED, S.QUEUED, S.EXECUTING, S.WAITING, S.PARKED}), S.CANCELED),
    "expire": (frozenset({S.DELAYED, S.QUEUED}), S.EXPIRED),
    "reschedule": (frozenset({S.DELAYED, S.QUEUED}), S.DELAYED),
}


def is_final(status: str) -> bool:
    return RunStatus(status) in FINAL


def allowed(transition: str, current: str) -> bool:
    """May ``transition`` be applied to a run in ``current`` status?"""
    return RunStatus(current) in TRANSITIONS[transition][0]
