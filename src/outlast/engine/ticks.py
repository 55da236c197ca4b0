"""Firing due schedules: exactly one run per tick, however many servers tick at once.

Three guards, each enough on its own in the common case, together enough in every case:

1. Only the ``sweeper`` lease holder calls ``tick`` (``outlast/upkeep``).
2. Each schedule fires in its own transaction that reads the row (``FOR UPDATE`` on
   PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers) and moves ``next_tick``
   with a compare-and-set on its old value; a server that lost the race updates nothing
   and stops.
3. The run is created through the normal trigger path with the idempotency key
   ``schedule:<id>:<tick>`` (unique per task), and the tick is recorded under the primary
   key (schedule_id, tick). Should a schedule ever be moved back onto a tick that already
   fired, the trigger returns the existing run and the schedule simply moves on.

After downtime only the latest due tick fires; the ones passed over are recorded as
``skipped`` so the dashboard can show the gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from outlast.core import cron
from outlast.core.options import TriggerOptions
from outlast.engine.triggering import NewRun, trigger_many
from outlast.errors import TaskNotFoundError
from outlast.jsonutil import dumps
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.core.definitions import TaskDefinition
    from outlast.engine import Engine

log = logging.getLogger("outlast.schedules")

#: schedules fired per pass at most; the rest are still due, so the next pass comes at once
BATCH = 200


@dataclass
class TickReport:
    fired: list[str] = field(default_factory=list)  # run ids created
    skipped: int = 0  # due ticks passed over (downtime)

    @property
    def total(self) -> int:
        return len(self.fired) + self.skipped


def tick(engine: Engine, now: float) -> TickReport:
    report = TickReport()
    with engine.store.transaction(write=False) as tx:
        due = tx.all("due_schedules", now=now, limit=BATCH)
    for row in due:
        definition = _definition(engine, row)
        with engine.store.transaction() as tx:
            _fire(tx, row["id"], definition, now, report)
    return report


def _definition(engine: Engine, row: Row) -> TaskDefinition | None:
    try:
        return engine.definition(row["environment"], row["task_id"])
    except TaskNotFoundError:
        return None


def _fire(tx: Tx, schedule_id: str, definition: TaskDefinition | None, now: float,
          report: TickReport) -> None:
    row = tx.one("lock_schedule", id=schedule_id)
    if row is None or not row["active"] or row["next_tick"] is None:
        return  # deleted or deactivated since we looked
    if definition is not None and definition.id != row["task_id"]:
        return  # its task was changed since we looked: the next pass fires it
    decision = cron.plan(row["cron"], row["timezone"], row["next_tick"], now)
    if decision is None:
        return  # another server moved it on already
    if not tx.run("advance_schedule", id=schedule_id, expected=row["next_tick"],
                  next_tick=decision.next_tick, last_tick=decision.fire, now=now):
        return
    run_id, created = _trigger(tx, row, definition, decision.fire, now)
    _record(tx, schedule_id, decision.fire, "fired" if run_id else "no_task", run_id,
            decision.skipped_count, now)
    for skipped in decision.skipped:
        _record(tx, schedule_id, skipped, "skipped", None, 0, now)
    if created and run_id:
        report.fired.append(run_id)
    report.skipped += decision.skipped_count


def _trigger(tx: Tx, row: Row, definition: TaskDefinition | None, fire: float,
             now: float) -> tuple[str | None, bool]:
    """(run id, created); (None, False) when the task is not registered."""
    if definition is None:
        log.warning("schedule %s: task %r is not registered in %r; tick %s not run",
                    row["id"], row["task_id"], row["environment"], fire)
        return None, False
    body = cron.payload(fire=fire, last=row["last_tick"], cron=row["cron"], tz=row["timezone"],
                        schedule_id=row["id"], external_id=row["external_id"])
    options = TriggerOptions(idempotency_key=f"schedule:{row['id']}:{fire:.0f}")
    request = NewRun(row["task_id"], dumps(body), options)
    [triggered] = trigger_many(tx, row["environment"], [(definition, request)], now)
    if not triggered.created:
        log.warning("schedule %s: tick %s had already fired run %s", row["id"], fire,
                    triggered.row["id"])
    return str(triggered.row["id"]), triggered.created


def _record(tx: Tx, schedule_id: str, tick_at: float, status: str, run_id: str | None,
            skipped: int, now: float) -> None:
    """Record a tick once; a tick already recorded keeps its first record."""
    tx.run("insert_schedule_tick", schedule_id=schedule_id, tick=tick_at, status=status,
           run_id=run_id, skipped=skipped, now=now)
