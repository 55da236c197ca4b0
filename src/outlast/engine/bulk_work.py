"""Moving a bulk action on by one bounded batch: what the upkeep holder calls.

An action goes PENDING → RUNNING, then through two phases, one batch per ``step``:

- ``snapshot``: one page of the runs its filter lists (newest first, from the runs list's
  own cursor, kept on the record) is copied into its items. When the list ends, ``total``
  is set and the action moves to ``process``. Runs triggered later are not in it.
- ``process``: the next ``batch_size`` items in run-id order are acted on, deleted and the
  record's ``cursor`` moved past them, with the counts, all in one transaction. After a
  restart the next holder continues from the first item left: none is acted on twice.

Every write of a batch is guarded on the record's ``batches`` count read before the batch
(and on RUNNING): an abort, or a second holder during a lease hand-over, makes the batch's
guarded write touch no row, and the whole batch is rolled back.

A batch whose transaction fails (a deadlock with a worker locking the same runs, a run
the trigger refuses) is done again one run per transaction, so one bad run costs only
itself; a run whose own transaction fails for a passing fault of the database is left
for the next pass, any other failure is counted against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from outlast.engine.bulk import ACTIVE
from outlast.engine.statuses import FINAL, RunStatus
from outlast.engine.triggering import trigger_many
from outlast.errors import NotFoundError, OutlastError, ValidationError
from outlast.jsonutil import dumps, loads
from outlast.store.faults import is_transient
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

BATCH_SIZE = 100
SNAPSHOT_PAGE = 1000
#: errors kept on the record (the first ones)
MAX_ERRORS = 20


class _Lost(Exception):
    """The action's guarded write touched no row: aborted, or another holder moved it."""


@dataclass
class Tally:
    """What one batch did, added to the record's counts by its guarded write."""

    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.succeeded + self.skipped + self.failed

    def fail(self, run_id: str, message: str) -> None:
        self.failed += 1
        self.errors.append({"run_id": run_id, "message": message})


def active(engine: Engine, limit: int = 10) -> list[Row]:
    """The unfinished actions, oldest first."""
    with engine.store.transaction(write=False) as tx:
        return tx.all("active_bulk_actions", limit=limit)


def step(engine: Engine, row: Row, batch_size: int = BATCH_SIZE) -> bool:
    """Move ``row``'s action on by one batch; False once it is finished (or gone)."""
    try:
        if row["status"] == "PENDING":
            _guarded(engine, "start_bulk_action", row)
        elif row["phase"] == "snapshot":
            _snapshot(engine, row)
        else:
            _process(engine, row, batch_size)
    except _Lost:
        pass
    except (ValidationError, NotFoundError) as exc:  # the filter no longer lists
        _end(engine, row, "FAILED", exc.message)
    return _reread(engine, row) is not None


def run_to_end(engine: Engine, batch_size: int = BATCH_SIZE) -> int:
    """Every unfinished action, moved on until none is left; returns the steps taken
    (``outlast dev`` leaves this to upkeep; tests and scripts call it)."""
    steps = 0
    while rows := active(engine):
        for row in rows:
            step(engine, row, batch_size)
            steps += 1
    return steps


def _reread(engine: Engine, row: Row) -> Row | None:
    with engine.store.transaction(write=False) as tx:
        fresh = tx.one("get_bulk_action", id=row["id"], environment=row["environment"])
    return fresh if fresh is not None and fresh["status"] in ACTIVE else None


def _guarded(engine: Engine, query: str, row: Row, tx: Tx | None = None,
             **params: Any) -> None:
    params |= {"id": row["id"], "batches": row["batches"], "now": engine.clock.now()}
    if tx is None:
        with engine.store.transaction() as own:
            if own.run(query, **params) != 1:
                raise _Lost
    elif tx.run(query, **params) != 1:
        raise _Lost


def _end(engine: Engine, row: Row, status: str, message: str) -> None:
    with engine.store.transaction() as tx:
        if tx.run("end_bulk_action", id=row["id"], status=status, message=message,
                  now=engine.clock.now()):
            tx.run("delete_bulk_items", bulk_action_id=row["id"])


def _snapshot(engine: Engine, row: Row) -> None:
    """One page of the filter's runs into the items; at the list's end, the total."""
    wanted = loads(row["filter"])
    runs, cursor = engine.list_runs(row["environment"], **wanted, limit=SNAPSHOT_PAGE,
                                    cursor=row["snapshot_cursor"])
    with engine.store.transaction() as tx:
        tx.many("insert_bulk_item", [{"bulk_action_id": row["id"], "run_id": r["id"]}
                                     for r in runs])
        if cursor is not None:
            _guarded(engine, "bulk_snapshot_step", row, tx, snapshot_cursor=cursor,
                     added=len(runs))
            return
        total = tx.one("count_bulk_items", bulk_action_id=row["id"])
        _guarded(engine, "bulk_snapshot_done", row, tx, total=int(total["n"]) if total else 0)


def _process(engine: Engine, row: Row, batch_size: int) -> None:
    with engine.store.transaction(write=False) as tx:
        items = [r["run_id"] for r in tx.all("next_bulk_items", bulk_action_id=row["id"],
                                                cursor=row["cursor"], limit=batch_size)]
    if not items:
        _guarded(engine, "complete_bulk_action", row)
        return
    try:
        with engine.store.transaction() as tx:
            _record(engine, tx, row, items, _act_all(engine, tx, row, items))
    except _Lost:
        raise
    except Exception:  # the database refused the batch: one run per transaction
        _one_by_one(engine, row, items)


def _one_by_one(engine: Engine, row: Row, items: list[str]) -> None:
    for run_id in items:
        try:
            with engine.store.transaction() as tx:
                _record(engine, tx, row, [run_id], _act_all(engine, tx, row, [run_id]))
        except _Lost:
            raise
        except Exception as exc:
            if is_transient(exc):  # the database's passing trouble, not the run's: the
                raise              # runner tries again later, from the committed cursor
            tally = Tally()
            tally.fail(run_id, exc.message if isinstance(exc, OutlastError)
                       else f"{type(exc).__name__}: {exc}")
            with engine.store.transaction() as tx:
                _record(engine, tx, row, [run_id], tally)
        row = _reread(engine, row) or row  # the next guard reads the count just written


def _record(engine: Engine, tx: Tx, row: Row, items: list[str], tally: Tally) -> None:
    errors = loads(row["errors"])
    errors = (errors + tally.errors)[:MAX_ERRORS]
    tx.run("delete_bulk_items_upto", bulk_action_id=row["id"], cursor=items[-1])
    _guarded(engine, "bulk_process_step", row, tx, cursor=items[-1],
             processed=tally.processed, succeeded=tally.succeeded, skipped=tally.skipped,
             failed=tally.failed, errors=dumps(errors))


def _act_all(engine: Engine, tx: Tx, row: Row, items: list[str]) -> Tally:
    tally = Tally()
    act = _cancel if row["action"] == "cancel" else _replay
    now = engine.clock.now()
    for run_id in items:
        run = tx.one("get_run", id=run_id, environment=row["environment"])
        if run is None:
            tally.fail(run_id, f"no run {run_id!r} in environment {row['environment']!r}")
            continue
        act(engine, tx, row, run, now, tally)
    return tally


def _cancel(engine: Engine, tx: Tx, action: Row, run: Row, now: float, tally: Tally) -> None:
    if RunStatus(run["status"]) in FINAL or not engine.cancel_in(tx, run["id"], now):
        tally.skipped += 1  # already final: nothing to cancel, and nothing went wrong
        return
    tally.succeeded += 1


def _replay(engine: Engine, tx: Tx, action: Row, run: Row, now: float, tally: Tally) -> None:
    from outlast.engine import replay_request

    try:
        definition = engine.definition(run["environment"], run["task_id"], tx)
    except OutlastError as exc:  # checked before anything is written for this run
        tally.fail(run["id"], exc.message)
        return
    trigger_many(tx, run["environment"],
                 [(definition, replay_request(run, action["payload"]
                                              or engine.blobs.text(run["payload"])))], now)
    tally.succeeded += 1
