"""The only writer of run state.

One function per change of status. Each runs a guarded UPDATE (``WHERE status IN
(allowed) [AND lease_id = the attempt's lease]``), appends the run event in the same
transaction, and raises ``InvalidTransitionError`` when zero rows changed: a stale
attempt (its lease was taken over) or a run already final never passes silently.
"""

from __future__ import annotations

from typing import Any

from outlast.engine import announce, events
from outlast.engine.statuses import TRANSITIONS, RunStatus
from outlast.errors import InvalidTransitionError
from outlast.jsonutil import dumps
from outlast.store.protocol import Tx

S = RunStatus


def _guard(changed: int, run_id: str, transition: str) -> None:
    if changed == 0:
        allowed = ", ".join(sorted(TRANSITIONS[transition][0]))
        raise InvalidTransitionError(
            f"cannot {transition.replace('_', ' ')} run {run_id}: it is not in {allowed} "
            "(or this attempt no longer holds its lease)",
            run_id=run_id,
        )


def finish(
    tx: Tx,
    *,
    run_id: str,
    lease_id: str,
    attempt: int,
    transition: str,
    now: float,
    executed: float,
    output: Any = None,
    error: dict[str, Any] | None = None,
    hook: str | None = None,
    cost: float = 0.0,
) -> None:
    """End an executing run for good: complete, fail, crash or time_out."""
    status = TRANSITIONS[transition][1]
    assert status is not None
    changed = tx.run(
        "finish_run",
        id=run_id,
        lease_id=lease_id,
        status=status.value,
        output=None if output is None and status != S.COMPLETED else dumps(output, "output"),
        error=None if error is None else dumps(error, "error"),
        hook_pending=hook,
        executed=executed,
        cost=cost,
        now=now,
    )
    _guard(changed, run_id, transition)
    _end_attempt(tx, run_id, attempt, status.value, error, now)
    events.append(tx, [events.event_row(run_id, transition, now, status.value, attempt,
                                        **({"error": error} if error else {}))])
    tx.notify(events.CHANGED_CHANNEL, run_id)


def requeue(
    tx: Tx,
    *,
    run_id: str,
    lease_id: str,
    attempt: int,
    transition: str,
    now: float,
    available_at: float,
    executed: float,
    machine: str,
    error: dict[str, Any] | None = None,
    give_back_attempt: bool = False,
    cost: float = 0.0,
    attempt_status: str = "FAILED",
) -> None:
    """Put an executing run back in its queue: a retry, or a hand-back on shutdown."""
    changed = tx.run(
        "requeue_run",
        id=run_id,
        lease_id=lease_id,
        available_at=available_at,
        error=None if error is None else dumps(error, "error"),
        machine=machine,
        give_back=1 if give_back_attempt else 0,
        executed=executed,
        cost=cost,
        now=now,
    )
    _guard(changed, run_id, transition)
    if give_back_attempt:
        attempt_status = "RELEASED"
    _end_attempt(tx, run_id, attempt, attempt_status, error, now)
    data: dict[str, Any] = {"available_at": available_at}
    if error:
        data["error"] = error
    events.append(tx, [events.event_row(run_id, transition, now, S.QUEUED.value, attempt, **data)])
    tx.notify(events.QUEUED_CHANNEL, run_id)
    tx.notify(events.CHANGED_CHANNEL, run_id)


def end_inactive(
    tx: Tx,
    *,
    run_id: str,
    transition: str,
    now: float,
    error: dict[str, Any] | None = None,
    hook: str | None = None,
) -> None:
    """End a run that no attempt holds (cancel, expire), or cancel an executing one."""
    from_statuses, status = TRANSITIONS[transition]
    assert status is not None
    changed = tx.run(
        "end_waiting_run",
        id=run_id,
        status=status.value,
        error=None if error is None else dumps(error, "error"),
        hook_pending=hook,
        from_statuses=sorted(from_statuses),
        now=now,
    )
    _guard(changed, run_id, transition)
    events.append(tx, [events.event_row(run_id, transition, now, status.value)])
    tx.notify(events.CHANGED_CHANNEL, run_id)
    if transition == "cancel":
        tx.run("cancel_attempts", run_id=run_id, now=now)
        tx.notify(events.CANCEL_CHANNEL, run_id)


def enqueue_delayed(tx: Tx, run_id: str, now: float) -> bool:
    """DELAYED → QUEUED once its time came; False when another process got there first."""
    if tx.run("enqueue_delayed", id=run_id, now=now) == 0:
        return False
    events.append(tx, [events.event_row(run_id, "enqueue_delayed", now, S.QUEUED.value)])
    tx.notify(events.QUEUED_CHANNEL, run_id)
    tx.notify(events.CHANGED_CHANNEL, run_id)
    return True


def reschedule(tx: Tx, *, run_id: str, environment: str, available_at: float, now: float) -> None:
    changed = tx.run(
        "reschedule_run", id=run_id, environment=environment, available_at=available_at, now=now
    )
    _guard(changed, run_id, "reschedule")
    events.append(tx, [events.event_row(run_id, "reschedule", now, S.DELAYED.value,
                                        available_at=available_at)])
    tx.notify(events.CHANGED_CHANNEL, run_id)
    announce.due(tx, available_at, now)


def _end_attempt(
    tx: Tx, run_id: str, attempt: int, status: str, error: dict[str, Any] | None, now: float
) -> None:
    tx.run(
        "finish_attempt",
        run_id=run_id,
        number=attempt,
        status=status,
        error=None if error is None else dumps(error, "error"),
        now=now,
    )


def suspend(
    tx: Tx, *, run_id: str, lease_id: str, attempt: int, now: float, executed: float,
    cost: float = 0.0,
) -> None:
    """EXECUTING → WAITING: the attempt ended at a wait; it frees its worker and queue slot.

    The attempt's number is given back: resuming continues the same attempt, so waits
    never use up retries.
    """
    changed = tx.run("suspend_run", id=run_id, lease_id=lease_id, executed=executed, cost=cost,
                     now=now)
    _guard(changed, run_id, "suspend")
    _end_attempt(tx, run_id, attempt, "SUSPENDED", None, now)
    events.append(tx, [events.event_row(run_id, "suspend", now, S.WAITING.value, attempt)])
    tx.notify(events.CHANGED_CHANNEL, run_id)


def resume(tx: Tx, *, run_id: str, now: float) -> bool:
    """WAITING → QUEUED once what it waits for is done; False if it was not waiting."""
    if tx.run("resume_run", id=run_id, now=now) == 0:
        return False
    events.append(tx, [events.event_row(run_id, "resume", now, S.QUEUED.value)])
    tx.notify(events.QUEUED_CHANNEL, run_id)
    tx.notify(events.CHANGED_CHANNEL, run_id)
    return True


def resume_settled(tx: Tx, run_ids: list[str], now: float) -> list[str]:
    """``resume`` for many runs in one statement: each WAITING run with nothing pending in
    its journal goes QUEUED. Returns the ids it queued."""
    resumed = [r["id"] for r in tx.all("resume_settled_runs", ids=run_ids, now=now)]
    events.append(tx, [events.event_row(i, "resume", now, S.QUEUED.value) for i in resumed])
    for run_id in resumed:
        tx.notify(events.QUEUED_CHANNEL, run_id)
        tx.notify(events.CHANGED_CHANNEL, run_id)
    return resumed
