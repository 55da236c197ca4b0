"""What the supervisor writes for an attempt, from what its child said or how it ended.

A child reports a finished run itself (``Finished``); when it dies, is killed for a
timeout, or the worker stops, the supervisor has to say what became of the runs the child
held. These rules are pure, so they live here, apart from the loop that applies them.
"""

from __future__ import annotations

import time
from typing import Any, cast

from outlast.core.outcomes import PLATFORM_ERROR, OutcomeKind
from outlast.engine import Outcome
from outlast.errors import ValidationError
from outlast.jsonutil import dumps
from outlast.worker.messages import Assignment, Finished, LogBatch
from outlast.worker.pool import Child

#: a child ended by its fork server's death: like the database's outage, not the task's
#: failure, so the attempt goes back without counting against its retries
FORK_SERVER_DIED = {"type": PLATFORM_ERROR,
                    "message": "the worker's fork server died, and with it the process "
                               "running the attempt; handed back"}


def finished(m: Finished, machine: str | None) -> Outcome:
    """The child ran the attempt to an end and said how it went."""
    return Outcome(m.run_id, m.lease_id, m.attempt, cast(OutcomeKind, m.kind),
                   m.executed, m.output, m.error, m.retry_override, m.hooks_done, machine,
                   m.retry_at, m.retry_machine, m.hook_errors)


def released(jobs: list[Assignment], why: str) -> list[Outcome]:
    """Claimed but never started: the runs (and their attempt numbers) go back."""
    return [Outcome(job.run["id"], job.lease_id, job.attempt, "released", 0.0,
                    error={"type": "WorkerShutdown", "message": why}) for job in jobs]


def died(child: Child, job: Assignment, started: float | None = None,
         reason: str | None = None) -> Outcome | None:
    """The child's process ended while running ``job`` (started at ``started``, else
    when the child took it up); None if nothing is to be written. ``reason``: why that
    run was being stopped, for a shared run (else why the child was killed)."""
    reason = reason or child.killed_for
    if reason == "cancel":
        return None  # the run is already final
    executed = time.monotonic() - (child.started_at if started is None else started)
    kind: OutcomeKind
    if reason == "timeout":
        return timed_out(job, executed)
    if child.died_with_server():  # the platform's fault: handed back uncharged
        error, kind = dict(FORK_SERVER_DIED), "platform_error"
    else:
        error, kind = child.crash_error(), "crashed"
    return Outcome(job.run["id"], job.lease_id, job.attempt, kind, executed, error=error)


def timed_out(job: Assignment, executed: float) -> Outcome:
    """The attempt was stopped for its run's ``max_duration``."""
    limit = job.run.get("max_duration")
    return Outcome(job.run["id"], job.lease_id, job.attempt, "timed_out", executed,
                   error={"type": "MaxDurationExceeded",
                          "message": f"the run exceeded its max_duration of {limit} s"})


def stopped(child: Child, job: Assignment, started: float | None = None) -> Outcome:
    """The worker's grace ran out mid-attempt: the run goes back to the queue."""
    begun = child.started_at if started is None else started
    return Outcome(job.run["id"], job.lease_id, job.attempt, "released",
                   time.monotonic() - begun,
                   error={"type": "WorkerShutdown", "message": "handed back on shutdown"})


def log_rows(batch: LogBatch) -> list[dict[str, Any]]:
    """A child's captured log lines as rows for the ``logs`` table (fenced by lease)."""
    return [{"run_id": batch.run_id, "lease_id": batch.lease_id, "attempt": batch.attempt,
             "at": r["at"], "level": storable(r["level"]), "message": storable(r["message"]),
             "attributes": _attributes(r["attributes"])} for r in batch.records]


def storable(text: str) -> str:
    """Printed text as the store can hold it: a NUL (PostgreSQL text refuses it) and a lone
    surrogate (no UTF-8 for it) become replacement characters, so one odd ``print`` in
    a task can neither fail the write of its attempt's logs nor the reading of them."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _attributes(attributes: dict[str, Any]) -> str:
    try:
        return dumps(attributes, "log attributes")
    except ValidationError:  # NaN, a lone surrogate: keep each value as readable text
        return dumps({storable(str(k)): storable(repr(v)) for k, v in attributes.items()},
                     "log attributes")
