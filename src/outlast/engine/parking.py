"""Parked runs: replay met code that no longer matches the journal, and the ways out.

A run resumes by replaying its journal: each durable operation must meet the entry its
first run recorded at the same place. When the code changed since (a step renamed,
moved or removed), that is no error of the run's and no retry of the same code could get
past it; failing the run would throw away the work its journal holds. So the attempt is
handed back uncharged and the run stops ``PARKED``, with why in ``runs.parked`` and a
``park`` event: no retry is spent, no failure alert fires, ``on_failure`` does not run.

An operator then either deploys code that matches and resumes the run (``resume``: it
replays again from its journal, steps already recorded do not run again), or moves it to
another version whose code can finish it (``move``, or ``resume`` with a version).
``move`` also pins runs that are not parked (delayed, queued or waiting).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outlast.core.versions import check_version
from outlast.engine import journal, transitions, versions
from outlast.engine.statuses import FINAL, RunStatus
from outlast.errors import InvalidTransitionError
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.core.outcomes import Outcome
    from outlast.engine import Engine

S = RunStatus


def _operation(value: Any) -> dict[str, str]:
    value = value if isinstance(value, dict) else {}
    return {"kind": str(value.get("kind", "?")), "name": str(value.get("name", "?"))}


def parked_record(run_id: str, error: dict[str, Any] | None, *, version: str | None,
                  attempt: int, now: float) -> dict[str, Any]:
    """What ``runs.parked`` and the ``park`` event hold: where replay diverged, what the
    journal recorded there, what the code called instead, and how to get the run going."""
    error = error or {}
    recorded, called = _operation(error.get("recorded")), _operation(error.get("called"))
    seq = error.get("seq")
    message = (
        f"run {run_id} is parked: replaying its history, durable operation #{seq} was "
        f"recorded as {recorded['kind']} {recorded['name']!r}, but the code "
        f"{'of version ' + version + ' ' if version else ''}now calls {called['kind']} "
        f"{called['name']!r}. No attempt was spent. Two ways out: bring back code that "
        f"matches the run's history (revert the change, or deploy a fix that keeps the old "
        f"path with `patched()`) and resume it (`outlast runs resume {run_id}`), or move it "
        f"to a version whose code matches (`outlast runs move {run_id} --version V`)."
    )
    return {"seq": seq, "recorded": recorded, "called": called, "message": message,
            "version": version, "attempt": attempt, "at": now}


def park(tx: Tx, outcome: Outcome, version: str | None, cost: float, now: float) -> None:
    """Record a ``parked`` outcome: the run stops PARKED, its attempt given back."""
    parked = parked_record(outcome.run_id, outcome.error, version=version,
                           attempt=outcome.attempt, now=now)
    transitions.park(tx, run_id=outcome.run_id, lease_id=outcome.lease_id,
                     attempt=outcome.attempt, now=now, executed=outcome.executed,
                     parked=parked, cost=cost)


class ParkingOps:
    """The operator's ways out of PARKED (``engine.parking``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def resume(self, env: str, run_id: str, version: str | None = None) -> dict[str, Any]:
        """PARKED → QUEUED, to replay again (on ``version``'s workers when given)."""
        if version is not None:
            check_version(version)
        with self.engine.store.transaction() as tx:
            row = journal.lock_in_env(tx, env, run_id)
            if row["status"] != S.PARKED.value:
                raise InvalidTransitionError(
                    f"run {run_id} is {row['status']}, not PARKED: only a parked run can be "
                    "resumed", run_id=run_id, status=row["status"])
            if version is not None:
                versions.require_runnable(tx, env, version, str(row["task_id"]))
            transitions.unpark(tx, run_id=run_id, now=self.engine.clock.now(), version=version,
                               event="resume_parked",
                               data={"version": version} if version else None)
        return self.engine.retrieve(env, run_id)

    def move(self, env: str, run_id: str, version: Any) -> dict[str, Any]:
        """Pin an unfinished run no attempt holds to ``version``; a PARKED one is queued."""
        version = check_version(version)
        with self.engine.store.transaction() as tx:
            row = journal.lock_in_env(tx, env, run_id)
            _check_movable(row)
            versions.require_runnable(tx, env, version, str(row["task_id"]))
            now = self.engine.clock.now()
            if row["status"] == S.PARKED.value:
                transitions.unpark(tx, run_id=run_id, now=now, version=version,
                                   event="move_version",
                                   data={"version": version, "previous": row.get("version")})
            else:
                transitions.move(tx, row, version=version, now=now)
        return self.engine.retrieve(env, run_id)


def _check_movable(row: Row) -> None:
    status = RunStatus(row["status"])
    if status in FINAL:
        raise InvalidTransitionError(
            f"run {row['id']} is already {status.value}; only unfinished runs can be moved",
            run_id=row["id"], status=status.value)
    if status == S.EXECUTING:
        raise InvalidTransitionError(
            f"run {row['id']} is EXECUTING: its attempt runs the code it started with; move "
            "it once the attempt ends (or cancel it)", run_id=row["id"], status=status.value)

