"""A run's numbers, defined once: attempts, execution time, waiting, queued time and cost.

The run page, the runs list, ``GET /runs/{id}`` and ``outlast runs show`` all show these
figures, and each used to work them out on its own, so they disagreed ("Attempts 0 of 3"
beside "Attempt 1 suspended"; "Duration 8 ms" beside "8.0 s from creation"). Every view
now reads them from ``run_numbers``.

- **attempts**: the attempts the run has used. A wait or a park gives the attempt's number
  back (resuming continues the same attempt, so waits never use up retries), yet that
  attempt ran and is the one that will go on: it counts.
- **execution**: seconds the run's code ran, summed over its attempts (what the workers
  recorded as each attempt ended, a canceled or crashed one included), plus the attempt
  running now. Time at a wait is not in it.
- **waiting**: seconds the run spent suspended at waits (WAITING) or PARKED.
- **queued**: the rest of its lifetime: queued, delayed, between attempts.
- **cost**: what the execution cost on the run's machines, the running attempt included.

Pure functions over what the store holds: the run's row (its recorded time and cost, as
each attempt's end added them), its attempt rows (which make the attempts count and the
running attempt's start exact) and its status events (which give the waiting time).
Without the last two (lists, realtime snapshots) the row alone gives close figures.
``records.run_record`` applies them, so every view reads the run's record and nothing
works the numbers out again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from outlast.machines import price
from outlast.store.protocol import Row

#: statuses in which a run is held off any worker until something happens
HELD = frozenset({"WAITING", "PARKED"})
#: an attempt row that gave its number back without running the task's code to an end
#: a retry could reuse (a hand-back on shutdown or a platform error)
_GIVEN_BACK = "RELEASED"


@dataclass(frozen=True)
class RunNumbers:
    attempts: int
    max_attempts: int
    #: seconds executing; None before the run first started
    execution: float | None
    cost: float
    #: seconds from creation to the end (or to now while it is not final)
    total: float
    #: seconds suspended at waits or parked; None when the run's events were not read
    waiting: float | None
    #: seconds queued, delayed or between attempts; None when ``waiting`` is
    queued: float | None
    #: an attempt is running: execution and cost grow with time
    live: bool


def run_numbers(run: Row, attempts: list[dict[str, Any]] | None = None,
                events: Iterable[dict[str, Any]] | None = None,
                now: float | None = None) -> RunNumbers:
    """The numbers of the run whose store row is ``run``.

    ``attempts`` (its attempt rows) and ``events`` (its status events, oldest first) are
    optional; ``now`` counts the running attempt in (None: as of the last write)."""
    running = running_seconds(run, attempts, now)
    execution = (None if run.get("started_at") is None
                 else float(run["execution_seconds"]) + running)
    end = run.get("finished_at") or (now if now is not None else run["created_at"])
    total = max(0.0, float(end) - float(run["created_at"]))
    waiting = None if events is None else held_seconds(run, events, now)
    queued = None if waiting is None else max(0.0, total - (execution or 0.0) - waiting)
    return RunNumbers(
        attempts=attempts_used(run, attempts), max_attempts=int(run["max_attempts"]),
        execution=execution, cost=float(run["cost"]) + price(run["machine"], running),
        total=total, waiting=waiting, queued=queued, live=run["status"] == "EXECUTING")


def attempts_used(run: Row, attempts: list[dict[str, Any]] | None) -> int:
    """The run's count, plus an attempt that gave its number back at a wait or a park."""
    counted = int(run["attempt_count"])
    if attempts is None:
        return counted + 1 if run["status"] in HELD else counted
    held = [int(a["number"]) for a in attempts if a["status"] != _GIVEN_BACK]
    return max([counted, *held])


def running_seconds(run: Row, attempts: list[dict[str, Any]] | None,
                    now: float | None) -> float:
    """Seconds the attempt running now has run (0 when none runs): the workers record an
    attempt's time only when it ends."""
    if run["status"] != "EXECUTING" or now is None:
        return 0.0
    start = _running_start(run, attempts)
    return 0.0 if start is None else max(0.0, now - start)


def _running_start(run: Row, attempts: list[dict[str, Any]] | None) -> float | None:
    if attempts is not None:
        starts = [a["started_at"] for a in attempts if a["status"] == "EXECUTING"]
        if starts:
            return float(max(starts))
    # from the row alone: the attempt started once the run was due, and after its first
    # start; off by how long it sat due in the queue before a worker took it
    known = [t for t in (run.get("started_at"), run.get("available_at")) if t is not None]
    return float(max(known)) if known else None


def held_seconds(run: Row, events: Iterable[dict[str, Any]],
                 now: float | None) -> float:
    """Seconds the run spent WAITING or PARKED, from the statuses its events record (each
    event carries the run's status after it)."""
    held, since = 0.0, None
    for event in events:
        status, at = event.get("status"), float(event["at"])
        if status in HELD and since is None:
            since = at
        elif status is not None and status not in HELD and since is not None:
            held, since = held + max(0.0, at - since), None
    if since is not None:
        end = run.get("finished_at") or now
        held += 0.0 if end is None else max(0.0, float(end) - since)
    return held


def numbers_fields(numbers: RunNumbers) -> dict[str, Any]:
    """The numbers as the run's JSON record carries them (seconds and dollars)."""
    return {
        "attempts": numbers.attempts,
        "duration": round(numbers.execution or 0.0, 6),
        "cost": round(numbers.cost, 8),
        "waiting_duration": None if numbers.waiting is None else round(numbers.waiting, 6),
        "queued_duration": None if numbers.queued is None else round(numbers.queued, 6),
    }
