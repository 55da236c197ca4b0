"""What happens to a run when one of its attempts ends.

``decide`` is the pure policy (retry or not, and when); ``record`` applies a batch of
outcomes in one transaction, each guarded by its attempt's lease. An outcome whose lease
was lost (the run was canceled, or recovered by the sweeper) is reported back as stale,
never written.

Plain completions (the bulk of a busy worker's outcomes) need no facts about the run, so
``record_completed`` writes all of them with one guarded statement (on PostgreSQL the
same statement also finishes their attempt rows and appends their events); every other
outcome goes through ``record_one``.

An attempt the platform could not carry through (``platform_error``: the database stayed
unavailable longer than its lease allows) is given back like a shutdown's hand-back: it
never counts against the task's retries (it waits a backoff before its next claim, so
a flaky database gets time to settle). Only a run handed back that way
``MAX_PLATFORM_HANDBACKS`` times ends ``SYSTEM_FAILURE``: the platform gives up on it,
and says so, rather than taking it back forever or blaming the task's code.

An attempt whose replay met code that no longer matches the run's journal (``parked``)
is given back the same way, but the run stops PARKED until an operator resumes or moves
it (``parking.py``): running the same code again could only meet the same mismatch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from outlast.core.backoff import backoff
from outlast.core.definitions import TaskDefinition
from outlast.core.hook_kinds import FAILURE_HOOKS, HOOK_JOB
from outlast.core.outcomes import PLATFORM_ERROR, Outcome
from outlast.core.retry import Retry, retry_delay
from outlast.engine import durable, failures, parking, transitions, waitpoints
from outlast.engine.blobs import Blobs
from outlast.errors import InvalidTransitionError, PayloadTooLargeError
from outlast.jsonutil import loads
from outlast.machines import price
from outlast.store.protocol import Tx

log = logging.getLogger("outlast.engine")

#: platform hand-backs of one run before the platform gives up on it (SYSTEM_FAILURE)
MAX_PLATFORM_HANDBACKS = 10
#: seconds a handed-back run waits before its next claim, at most (doubling from 1 s)
MAX_PLATFORM_BACKOFF = 60.0
def kept_output(outcome: Outcome, blobs: Blobs) -> Outcome:
    """A completed outcome whose large output went to the blob store (the outcome holds
    its reference); over the size limit, a failed attempt instead, as if the task had
    raised ``PayloadTooLargeError`` (retried like any failure)."""
    if outcome.kind != "completed":
        return outcome
    try:
        output = blobs.keep(outcome.run_id, "output", outcome.output, "output")
    except PayloadTooLargeError as exc:
        return replace(outcome, kind="failed", output=None, hooks_done=False,
                       error={"type": "PayloadTooLargeError", "message": str(exc)})
    return outcome if output is outcome.output else replace(outcome, output=output)


@dataclass(frozen=True)
class Decision:
    #: complete | retry | fail | crash | time_out | release | suspend | system_failure | park
    transition: str
    delay: float = 0.0
    machine: str | None = None


#: what a batch completion decided for each run it completed (frozen: one serves all)
_COMPLETE = Decision("complete")


@dataclass
class RunFacts:
    """What ``decide`` needs to know about the run."""

    max_attempts: int
    retry: Retry
    machine: str
    parent_id: str | None = None
    #: earlier attempts of the run handed back for platform errors (read only for one)
    platform_handbacks: int = 0
    #: the version the run is pinned to (``runs.version``), kept in its ``parked`` record
    version: str | None = None
    #: where the run belongs, kept with each failure (``failures.py``) to group it by
    environment: str = ""
    task_id: str = ""


#: outcomes that lead to one transition whatever else is known. ``parked``: the code no
#: longer matches the run's journal, so no retry of it could help (``parking.py``)
_PLAIN: dict[str, str] = {
    "completed": "complete", "released": "release", "suspended": "suspend",
    "parked": "park", "timed_out": "time_out",
}


def decide(outcome: Outcome, facts: RunFacts, now: float = 0.0) -> Decision:
    """Pure: the transition an attempt's outcome leads to (``now`` turns a ``retry_at``
    into a delay)."""
    kind = outcome.kind
    if kind in _PLAIN:
        return Decision(_PLAIN[kind])
    if kind == "platform_error":  # not the task's doing: the attempt is given back
        if facts.platform_handbacks + 1 >= MAX_PLATFORM_HANDBACKS:
            return Decision("system_failure")
        return Decision("release", delay=platform_backoff(facts.platform_handbacks))
    if kind == "aborted" or outcome.retry_override is False:
        return Decision("fail")
    if outcome.attempt >= facts.max_attempts:
        return Decision("crash" if kind in ("crashed", "oom") else "fail")
    return Decision("retry", delay=_retry_delay(outcome, facts, now),
                    machine=_retry_machine(outcome, facts))


def _retry_delay(outcome: Outcome, facts: RunFacts, now: float) -> float:
    if outcome.retry_at is not None:
        return max(0.0, outcome.retry_at - now)
    override = outcome.retry_override
    if isinstance(override, int | float) and not isinstance(override, bool):
        return float(override)
    return retry_delay(facts.retry, outcome.attempt)


def _retry_machine(outcome: Outcome, facts: RunFacts) -> str:
    if outcome.retry_machine is not None:
        return outcome.retry_machine
    if outcome.kind == "oom" and facts.retry.out_of_memory_machine:
        return facts.retry.out_of_memory_machine
    return facts.machine


def platform_backoff(earlier: int) -> float:
    """Seconds before a run handed back for platform errors is claimed again: a flaky
    database gets time to settle rather than the run bouncing straight back."""
    return backoff(earlier + 1, first=1.0, most=MAX_PLATFORM_BACKOFF)


def apply(
    tx: Tx, outcome: Outcome, facts: RunFacts, definition: TaskDefinition | None, now: float
) -> Decision:
    if outcome.kind == "platform_error":
        facts = replace(facts, platform_handbacks=platform_handbacks(tx, outcome.run_id))
    decision = decide(outcome, facts, now)
    cost = cost_of(facts.machine, outcome.executed)
    if decision.transition == "suspend":
        transitions.suspend(tx, run_id=outcome.run_id, lease_id=outcome.lease_id,
                            attempt=outcome.attempt, now=now, executed=outcome.executed,
                            cost=cost)
        durable.after_suspend(tx, outcome.run_id, now)
        return decision
    if decision.transition == "park":
        parking.park(tx, outcome, facts.version, cost, now)
        return decision
    if decision.transition in ("retry", "release"):
        transitions.requeue(
            tx, run_id=outcome.run_id, lease_id=outcome.lease_id, attempt=outcome.attempt,
            now=now, executed=outcome.executed, cost=cost, transition=decision.transition,
            available_at=now + decision.delay, machine=decision.machine or facts.machine,
            error=outcome.error, give_back_attempt=decision.transition == "release",
            attempt_status="CRASHED" if outcome.kind in ("crashed", "oom") else "FAILED",
        )
        failures.record(tx, _failure(outcome, facts), decision.transition, now)
        return decision
    wants_hook = decision.transition != "complete" and not outcome.hooks_done
    hook = failure_hook(definition) if wants_hook else None
    transitions.finish(
        tx, run_id=outcome.run_id, lease_id=outcome.lease_id, attempt=outcome.attempt,
        now=now, executed=outcome.executed, cost=cost, transition=decision.transition,
        output=outcome.output, error=outcome.error, hook=hook,
    )
    failures.record(tx, _failure(outcome, facts), decision.transition, now)
    if facts.parent_id is not None:  # a parent may be waiting for this run
        final = tx.one("lock_run", id=outcome.run_id)
        if final is not None:
            waitpoints.on_run_final(tx, final, now)
    return decision


def failure_hook(definition: TaskDefinition | None) -> str | None:
    """``runs.hook_pending`` for a run of ``definition`` that failed outside its task's
    process: a worker then calls its ``on_failure`` and ``on_complete`` hooks."""
    if definition is None or not set(FAILURE_HOOKS) & set(definition.hooks):
        return None
    return HOOK_JOB


def _failure(outcome: Outcome, facts: RunFacts) -> failures.Failure:
    return failures.Failure(facts.environment, facts.task_id, facts.version, outcome.run_id,
                            outcome.attempt, outcome.error)


def platform_handbacks(tx: Tx, run_id: str) -> int:
    """How many times the run was handed back for platform errors (its events say)."""
    rows = tx.all("list_events", run_id=run_id, after=0, limit=1_000_000)
    return sum(1 for r in rows if r["kind"] == "release"
               and ((loads(r["data"]) or {}).get("error") or {}).get("type") == PLATFORM_ERROR)


def cost_of(machine: str, seconds: float) -> float:
    return price(machine, seconds)


def record_one(
    tx: Tx, outcome: Outcome, facts: RunFacts, definition: TaskDefinition | None, now: float
) -> Decision | None:
    """Apply one outcome; None when its lease was stale (nothing written)."""
    try:
        return apply(tx, outcome, facts, definition, now)
    except InvalidTransitionError:
        log.info("dropped a stale outcome for run %s (attempt %s)", outcome.run_id,
                 outcome.attempt)
        return None


def batchable(outcome: Outcome) -> bool:
    """A completion whose machine is known needs nothing read from the run to be written."""
    return outcome.kind == "completed" and outcome.machine is not None


def record_completed(tx: Tx, outcomes: list[Outcome], now: float) -> list[Decision | None]:
    """Complete many runs with one guarded statement; None marks a stale outcome.

    Same writes as ``transitions.finish`` for each run (``transitions.complete_batch``), and
    a waiting parent hears of it as after ``apply``.
    """
    if not outcomes:
        return []
    parents = transitions.complete_batch(tx, [
        transitions.Completion(o.run_id, o.lease_id, o.attempt, o.output, o.executed,
                               cost_of(o.machine or "", o.executed))
        for o in outcomes], now)
    for o in outcomes:
        if o.run_id not in parents:
            log.info("dropped a stale outcome for run %s (attempt %s)", o.run_id, o.attempt)
        elif parents[o.run_id] is not None:  # a parent may be waiting for it
            final = tx.one("lock_run", id=o.run_id)
            if final is not None:
                waitpoints.on_run_final(tx, final, now)
    return [_COMPLETE if o.run_id in parents else None for o in outcomes]
