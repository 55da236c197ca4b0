"""The run journal: one entry per durable operation, keyed by (run, sequence number).

An attempt writes to its run's journal only while it holds the run's lease; the check
and the write share a transaction (and, on PostgreSQL, a row lock on the run), so a
stale attempt can never add to a journal that a newer attempt is replaying.
"""

from __future__ import annotations

from typing import Any

from outlast.errors import InvalidTransitionError, RunNotFoundError
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row, Tx

PENDING, OK, ERROR = "pending", "ok", "error"


def hold_lease(tx: Tx, run_id: str, lease_id: str) -> Row:
    """The run's row, locked, if ``lease_id`` still owns it; else InvalidTransitionError."""
    row = tx.one("lock_run_lease", id=run_id, lease_id=lease_id)
    if row is None:
        raise InvalidTransitionError(
            f"run {run_id}: this attempt no longer holds the run (canceled, timed out or "
            "taken over)", run_id=run_id,
        )
    return row


def held_leases(tx: Tx, attempts: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``attempts`` (run id, lease id) still hold their runs, those runs locked
    in id order, in one statement. Two attempts of one run can both be asked about (a
    stale one's late write beside the new one's): at most the newer holds it."""
    ids = sorted({run_id for run_id, _ in attempts})
    return attempts & {(r["id"], r["lease_id"]) for r in tx.all("lock_run_leases", ids=ids)}


def hold_leases(tx: Tx, attempts: set[tuple[str, str]]) -> None:
    """``hold_lease`` for several attempts; InvalidTransitionError naming the first run
    (by id) whose attempt lost it."""
    lost = sorted(attempts - held_leases(tx, attempts))
    if lost:
        run_id = lost[0][0]
        raise InvalidTransitionError(
            f"run {run_id}: this attempt no longer holds the run (canceled, timed out or "
            "taken over)", run_id=run_id,
        )


def lock_in_env(tx: Tx, env: str, run_id: str) -> Row:
    """The run's row, locked, for a change from outside any run; RunNotFoundError when it
    is not a run of ``env`` (a key never reaches another environment's runs)."""
    row = tx.one("lock_run", id=run_id)
    if row is None or row["environment"] != env:
        raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}", run_id=run_id)
    return row


def record(tx: Tx, run_id: str, seq: int, kind: str, name: str, now: float, *,
           status: str = OK, result: Any = None, error: Any = None,
           started: float | None = None) -> None:
    """An entry done (or pending) at ``now``; its ``created_at`` is when the operation
    began: ``started`` for one that ran a while in the attempt (a step), else ``now``."""
    tx.run("insert_journal", run_id=run_id, seq=seq, kind=kind, name=name, status=status,
           result=None if status == PENDING else dumps(result, f"result of {name!r}"),
           error=None if error is None else dumps(error, "error"), now=now,
           started=now if started is None else min(started, now))


def record_done(tx: Tx, entries: list[tuple[str, int, str, str, Any, float]],
                now: float) -> None:
    """Entries done at ``now``, each ``(run_id, seq, kind, name, result, started)``,
    sent together (no answer awaited for each)."""
    tx.many("insert_journal", [
        {"run_id": run_id, "seq": seq, "kind": kind, "name": name, "status": OK,
         "result": dumps(result, f"result of {name!r}"), "error": None, "now": now,
         "started": min(started, now)}
        for run_id, seq, kind, name, result, started in entries])


def complete(tx: Tx, run_id: str, seq: int, result: Any, now: float) -> bool:
    return tx.run("complete_journal", run_id=run_id, seq=seq, status=OK,
                  result=dumps(result, "wait result"), error=None, now=now) > 0


def complete_settled(tx: Tx, waits: list[tuple[str, int, Any]], now: float) -> None:
    """Give each wait ``(run_id, seq, result)`` its result, where no waitpoint at that
    sequence number is still pending (a wait for several things completes with the last)."""
    tx.many("complete_settled_journal", [
        {"run_id": run_id, "seq": seq, "status": OK, "result": dumps(result, "wait result"),
         "now": now} for run_id, seq, result in waits])


def entries(tx: Tx, run_id: str) -> list[dict[str, Any]]:
    """The journal as the child replays it: seq, kind, name, status, result."""
    return [_entry(r) for r in tx.all("list_journal", run_id=run_id)]


def entries_of(tx: Tx, run_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``entries`` of several runs in one statement (a claim's resumed runs)."""
    journals: dict[str, list[dict[str, Any]]] = {run_id: [] for run_id in run_ids}
    for r in tx.all("list_journals", ids=run_ids):
        journals[r["run_id"]].append(_entry(r))
    return journals


def _entry(r: Row) -> dict[str, Any]:
    return {"seq": r["seq"], "kind": r["kind"], "name": r["name"], "status": r["status"],
            "result": loads(r["result"]), "created_at": r["created_at"],
            "completed_at": r["completed_at"]}
