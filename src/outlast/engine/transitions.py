"""The only writer of run state.

One function per change of status. Each runs a guarded UPDATE (``WHERE status IN
(allowed) [AND lease_id = the attempt's lease]``), appends the run event in the same
transaction, and raises ``InvalidTransitionError`` when zero rows changed: a stale
attempt (its lease was taken over) or a run already final never passes silently.

The batch changes (a claim starting many runs, many completions in one statement,
resuming the runs a batch of waits settled) answer with the rows they changed instead:
in a batch, a run another process got to first is an expected answer, not an error, and
one stale row must not undo the others. Their statements stay one per batch; the claim's
are the hottest writes of the platform.

``QUERIES`` names every query that changes a run's status and the transitions it applies;
the ``from`` statuses of each are declared once, in ``statuses.TRANSITIONS``. A test reads
the SQL of both dialects and checks each query's guard and target against that table, and
that no other module runs these queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from outlast.engine import announce, events
from outlast.engine.statuses import TRANSITIONS, RunStatus
from outlast.errors import InvalidTransitionError
from outlast.jsonutil import dumps
from outlast.machines import price
from outlast.store.protocol import Row, Tx

S = RunStatus

#: query name → the transitions it applies. The query's ``WHERE … status`` guard is their
#: ``from`` set and its ``SET status`` their target (a parameter where they differ).
QUERIES: dict[str, tuple[str, ...]] = {
    "claim_unlimited": ("start_attempt",),
    "claim_unlimited_in": ("start_attempt",),
    "start_runs": ("start_attempt",),
    "finish_run": ("complete", "fail", "crash", "time_out", "system_failure"),
    "complete_runs_logged": ("complete",),
    "requeue_run": ("retry", "release"),
    "suspend_run": ("suspend",),
    "resume_run": ("resume",),
    "resume_settled_runs": ("resume",),
    "park_run": ("park",),
    "unpark_run": ("unpark",),
    "enqueue_delayed": ("enqueue_delayed",),
    "end_waiting_run": ("cancel", "expire"),
    "reschedule_run": ("reschedule",),
}

#: queries that write an attempt row (its status moves only with its run's, so these run
#: only here too); some of ``QUERIES`` write attempt rows as well, on PostgreSQL
ATTEMPT_QUERIES: tuple[str, ...] = ("insert_attempt", "finish_attempt", "cancel_attempts")


def _applies(query: str, transition: str) -> None:
    """A query whose guard or target is a parameter applies only its own transitions."""
    if transition not in QUERIES[query]:
        raise ValueError(f"{query} applies {', '.join(QUERIES[query])}, not {transition!r}")


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
    """End an executing run for good: complete, fail, crash, time_out or system_failure."""
    _applies("finish_run", transition)
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
    _applies("requeue_run", transition)
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
    _applies("end_waiting_run", transition)
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
        for ended in tx.all("cancel_attempts", run_id=run_id, now=now):
            # its worker's report is stale now (the lease is gone): charge its time here
            charge(tx, run_id, ended["machine"], now - float(ended["started_at"]), now)
        tx.notify(events.CANCEL_CHANNEL, run_id)


def charge(tx: Tx, run_id: str, machine: str, executed: float, now: float) -> None:
    """Add execution no worker will report (an attempt canceled or lost mid-run) to the
    run's time and cost, so that work done is shown and charged however the run ended."""
    executed = max(0.0, executed)
    if executed > 0:
        tx.run("charge_run", id=run_id, executed=executed, cost=price(machine, executed),
               now=now)


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


def park(
    tx: Tx, *, run_id: str, lease_id: str, attempt: int, now: float, executed: float,
    parked: dict[str, Any], cost: float = 0.0,
) -> None:
    """EXECUTING → PARKED: replay met code that no longer matches the run's journal.

    Like ``suspend``, the attempt frees its worker and queue slot and gives its number
    back: the run did nothing wrong that another try of the same code could fix, so no
    retry is spent. ``parked`` (why, as ``parking.parked_record`` builds it) is kept on
    the run and in its ``park`` event.
    """
    changed = tx.run("park_run", id=run_id, lease_id=lease_id, parked=dumps(parked, "parked"),
                     executed=executed, cost=cost, now=now)
    _guard(changed, run_id, "park")
    _end_attempt(tx, run_id, attempt, S.PARKED.value,
                 {"type": "NonDeterminismError", "message": parked["message"]}, now)
    event = events.event_row(run_id, "park", now, S.PARKED.value, attempt)
    event["data"] = dumps(parked, "event data")  # its keys ``at`` and ``attempt`` included
    events.append(tx, [event])
    tx.notify(events.CHANGED_CHANNEL, run_id)


def unpark(
    tx: Tx, *, run_id: str, now: float, version: str | None, event: str,
    data: dict[str, Any] | None = None,
) -> None:
    """PARKED → QUEUED, its ``parked`` cleared; pinned to ``version`` when one is given.

    ``event`` names what the operator did (``resume_parked`` or ``move_version``).
    """
    changed = tx.run("unpark_run", id=run_id, version=version, now=now)
    _guard(changed, run_id, "unpark")
    events.append(tx, [events.event_row(run_id, event, now, S.QUEUED.value, **(data or {}))])
    tx.notify(events.QUEUED_CHANNEL, run_id)
    tx.notify(events.CHANGED_CHANNEL, run_id)


def move(tx: Tx, row: Row, *, version: str, now: float) -> None:
    """Pin a run no attempt holds (DELAYED, QUEUED or WAITING) to ``version``; its status
    stays. A PARKED run moves with ``unpark``, an EXECUTING one not at all (its attempt
    runs the code it started with)."""
    if tx.run("set_run_version", id=row["id"], version=version, now=now) == 0:
        raise InvalidTransitionError(
            f"cannot move run {row['id']}: it is no longer DELAYED, QUEUED or WAITING",
            run_id=row["id"])
    events.append(tx, [events.event_row(row["id"], "move_version", now, row["status"],
                                        version=version, previous=row.get("version"))])
    tx.notify(events.CHANGED_CHANNEL, row["id"])


def resume_settled(tx: Tx, run_ids: list[str], now: float) -> list[str]:
    """``resume`` for many runs in one statement: each WAITING run with nothing pending in
    its journal goes QUEUED. Returns the ids it queued.

    Workers are woken once per queue, not once per run: they claim by queue and read no
    run id from the note, and on PostgreSQL each note costs the commit (upkeep waking 500
    sleeps sent 1,000 notes, which took its commit from about 4 ms to about 19 ms on a
    loaded machine). Realtime still hears each run on ``CHANGED_CHANNEL``.
    """
    rows = tx.all("resume_settled_runs", ids=run_ids, now=now)
    resumed = [r["id"] for r in rows]
    events.append(tx, [events.event_row(i, "resume", now, S.QUEUED.value) for i in resumed])
    for queue in sorted({str(r["queue"]) for r in rows}):
        tx.notify(events.QUEUED_CHANNEL, queue)
    for run_id in resumed:
        tx.notify(events.CHANGED_CHANNEL, run_id)
    return resumed


@dataclass(frozen=True)
class Lease:
    """Whom a claim starts runs for: the attempts' lease, their worker, when it runs out."""

    lease_id: str
    worker_id: str
    expires_at: float


def claim_unlimited(
    tx: Tx, lease: Lease, *, environment: str, queues: list[str] | None, limit: int, now: float,
    version: str | None = None, tasks: list[str] | None = None, alone: bool = False,
) -> list[Row]:
    """QUEUED → EXECUTING (``start_attempt``) for up to ``limit`` runs, picked and started by
    one statement, from every queue or from the named ones; ``log_starts`` then finishes
    the change. ``alone``: the statement is its transaction's last (``Tx.alone``).

    With a ``version`` (the claiming worker's, and ``tasks``, the ids its code has), only
    runs it can execute: those pinned to its version, and unpinned runs of the tasks
    ``core.versions.fresh_tasks`` gives it, which the statement reads itself; each run it
    starts is pinned to ``version``. Without one (tests claiming as no worker), any run.

    The answer also carries ``limited_queues`` (> 0: a queue or the environment has a limit
    and nothing was claimed on purpose). On PostgreSQL the statement writes the attempt
    rows and events too, and sends the started runs' realtime notes. Two statements rather
    than one that handles both: PostgreSQL plans each claim, and a branch that cannot run
    would cost as much planning as the one that does.
    """
    args: dict[str, Any] = {
        "environment": environment, "now": now, "limit": limit, "lease_id": lease.lease_id,
        "lease_expires_at": lease.expires_at, "worker_id": lease.worker_id,
        "version": version, "tasks": tasks, "changed_channel": events.CHANGED_CHANNEL,
        # the data of each start's event, where the statement writes them (``log_starts``)
        "start_data": dumps({"worker_id": lease.worker_id}, "event data")}
    run = tx.alone if alone else tx.all
    if queues is None:
        return run("claim_unlimited", **args)
    return run("claim_unlimited_in", queues=queues, **args)


def start_runs(tx: Tx, lease: Lease, ids: list[str], now: float,
               version: str | None = None) -> list[Row]:
    """QUEUED → EXECUTING (``start_attempt``) for the runs a counted claim chose, in one
    statement guarded on ``QUEUED``; returns the rows it started, each pinned to
    ``version`` unless it was already (the candidates were read with the version filter,
    under their row locks). ``log_starts`` then finishes the change."""
    return tx.all("start_runs", ids=ids, lease_id=lease.lease_id,
                  lease_expires_at=lease.expires_at, worker_id=lease.worker_id, now=now,
                  version=version)


def log_starts(tx: Tx, lease: Lease, started: list[Row], *, logged: bool, now: float) -> None:
    """The rest of ``start_attempt`` for runs a claim started: each one's attempt row and
    event (in the order given, the claim's), and the realtime notification, unless its
    statement ``logged`` them already (``claim_unlimited`` on PostgreSQL: its notes are
    then only announced in process, ``Tx.notified``)."""
    if started and not logged:
        attempts: list[dict[str, Any]] = []
        evts: list[dict[str, Any]] = []
        for row in started:
            attempts.append({
                "run_id": row["id"], "number": row["attempt_count"], "lease_id": lease.lease_id,
                "worker_id": lease.worker_id, "machine": row["machine"], "started_at": now,
            })
            evts.append(events.event_row(row["id"], "start_attempt", now, S.EXECUTING.value,
                                         row["attempt_count"], worker_id=lease.worker_id))
        tx.many("insert_attempt", attempts)
        events.append(tx, evts)
    note = tx.notified if logged else tx.notify
    for row in started:
        note(events.CHANGED_CHANNEL, row["id"])


class Completion(NamedTuple):
    """One attempt that returned, for ``complete_batch`` (a tuple: a batch makes one per
    run ended, and a frozen dataclass's ``__init__`` took twice as long)."""

    run_id: str
    lease_id: str
    attempt: int
    output: Any
    executed: float
    cost: float


def complete_batch(tx: Tx, done: list[Completion], now: float) -> dict[str, str | None]:
    """``finish`` with ``complete`` for many runs in one statement, each row still guarded
    by its own lease. Returns the parent id (or None) of each run it completed; a run
    missing from the answer was stale (its lease moved on) and nothing was written for it.
    """
    if not done:
        return {}
    written = {r["id"]: r for r in tx.all(
        "complete_runs_logged", now=now,
        ids=[c.run_id for c in done], lease_ids=[c.lease_id for c in done],
        outputs=[dumps(c.output, "output") for c in done],
        executed=[c.executed for c in done], costs=[c.cost for c in done],
        attempts=[c.attempt for c in done])}
    completed = [c for c in done if c.run_id in written]
    if completed and not tx.compound_writes:  # the statement could not write them
        status = S.COMPLETED.value
        tx.many("finish_attempt", [{"run_id": c.run_id, "number": c.attempt, "status": status,
                                    "error": None, "now": now} for c in completed])
        events.append(tx, [events.event_row(c.run_id, "complete", now, status, c.attempt)
                           for c in completed])
    for c in completed:
        tx.notify(events.CHANGED_CHANNEL, c.run_id)
    return {c.run_id: written[c.run_id]["parent_id"] for c in completed}
