"""Cron schedules: create, read, change and remove them, and keep declared ones in step.

Two kinds share one table. Imperative schedules come from the API (``schedules.create``);
a ``deduplication_key`` makes creation an upsert, so a deploy script can say "this
schedule exists" as often as it likes. Declarative schedules come from code
(``@schedules.task``): each time a worker registers its tasks, ``sync_declarative`` makes
the table match what the code says, and a schedule whose task vanished (or lost its cron)
is deactivated, never left firing. Code owns a declarative schedule's cron, so the API may
pause and resume it but not edit or delete it.

Firing is in ``engine/ticks.py``; the next-fire policy is in ``core/cron.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from outlast.core import cron
from outlast.core.definitions import TaskDefinition
from outlast.engine import ticks as ticking
from outlast.errors import ConflictError, ScheduleNotFoundError, ValidationError
from outlast.ids import new_id
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

log = logging.getLogger("outlast.schedules")

DECLARATIVE, IMPERATIVE = "declarative", "imperative"
#: why a schedule is inactive: its task or cron left the code, or someone deactivated it
REMOVED_FROM_CODE, DEACTIVATED = "removed_from_code", "deactivated"
_EDITABLE = {"task", "cron", "timezone", "external_id"}

Record = dict[str, Any]
Records = list[Record]
Definitions = list[TaskDefinition]
Page = tuple[Records, str | None]


def schedule_record(row: Row) -> Record:
    """The JSON shape of a schedule, as the HTTP API and the clients see it."""
    active = bool(row["active"]) and row["next_tick"] is not None
    # the times from next_tick on (strictly after a second before it)
    soon = cron.upcoming(row["cron"], row["timezone"], row["next_tick"] - 1) if active else []
    return {
        "id": row["id"],
        "task": row["task_id"],
        "cron": row["cron"],
        "description": cron.describe(row["cron"]),
        "timezone": row["timezone"],
        "external_id": row["external_id"],
        "deduplication_key": row["deduplication_key"],
        "source": row["source"],
        "active": active,
        "inactive_reason": row["inactive_reason"],
        "last_run": row["last_tick"],
        "next_run": row["next_tick"] if active else None,
        "upcoming": cron.iso_times(soon),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "environment": row["environment"],
    }


class Schedules:
    """The engine's schedules system (``engine.schedules``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading -------------------------------------------------------------------------

    def _row(self, tx: Tx, env: str, schedule_id: str) -> Row:
        row = tx.one("get_schedule", id=schedule_id, environment=env)
        if row is None:
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r} in environment {env!r}",
                                        schedule_id=schedule_id)
        return row

    def retrieve(self, env: str, schedule_id: str) -> Record:
        with self.engine.store.transaction(write=False) as tx:
            return schedule_record(self._row(tx, env, schedule_id))

    def list(self, env: str, *, task: str | None = None, limit: int = 100,
             cursor: str | None = None) -> Page:
        """Oldest first; returns (schedules, cursor for the next page or None)."""
        if not 1 <= limit <= 1000:
            raise ValidationError(f"limit must be between 1 and 1000, got {limit}")
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_schedules", environment=env, task_id=task, cursor=cursor,
                          limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return [schedule_record(r) for r in rows], (rows[-1]["id"] if more else None)

    def ticks(self, env: str, schedule_id: str, limit: int = 50) -> Records:
        """The latest fired and skipped ticks, newest first (for the dashboard)."""
        with self.engine.store.transaction(write=False) as tx:
            self._row(tx, env, schedule_id)
            rows = tx.all("list_schedule_ticks", schedule_id=schedule_id, limit=limit)
        return [{"tick": r["tick"], "status": r["status"], "run_id": r["run_id"],
                 "skipped": r["skipped"], "recorded_at": r["recorded_at"]} for r in rows]

    # -- writing -------------------------------------------------------------------------

    def create(self, env: str, *, task: str, cron_text: str, timezone: str = "UTC",
               external_id: str | None = None,
               deduplication_key: str | None = None) -> tuple[Record, bool]:
        """A new imperative schedule, or (same ``deduplication_key``) the updated existing one.

        Returns (schedule, created).
        """
        expanded = cron.checked(cron_text, timezone)
        self.engine.definition(env, task)  # TaskNotFoundError for a task no worker registered
        now = self.engine.clock.now()
        values = {"task_id": task, "cron": expanded, "timezone": timezone,
                  "external_id": external_id}
        with self.engine.store.transaction() as tx:
            found = self._by_key(tx, env, deduplication_key)
            if found is not None:
                return self._apply_update(tx, found, values, now), False
            schedule_id = new_id("sched")
            inserted = tx.run(
                "insert_schedule", id=schedule_id, environment=env, source=IMPERATIVE,
                deduplication_key=deduplication_key, active=1, inactive_reason=None,
                next_tick=cron.next_after(expanded, timezone, now), now=now, **values)
            if not inserted:  # lost a race for the key: update the winner's schedule
                winner = self._by_key(tx, env, deduplication_key)
                assert winner is not None
                return self._apply_update(tx, winner, values, now), False
            return schedule_record(self._row(tx, env, schedule_id)), True

    @staticmethod
    def _by_key(tx: Tx, env: str, key: str | None) -> Row | None:
        if key is None:
            return None
        return tx.one("find_schedule_by_dedup", environment=env, deduplication_key=key)

    def update(self, env: str, schedule_id: str, **changes: Any) -> Record:
        """Change ``task``, ``cron``, ``timezone`` or ``external_id`` of an imperative one."""
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise ValidationError(f"cannot update {', '.join(sorted(unknown))}; "
                                  f"editable: {', '.join(sorted(_EDITABLE))}")
        if "task" in changes:
            self.engine.definition(env, changes["task"])
        with self.engine.store.transaction() as tx:
            row = self._imperative(tx, env, schedule_id, "updated")
            values: Record = {"task_id": changes.get("task", row["task_id"]),
                      "cron": changes.get("cron", row["cron"]),
                      "timezone": changes.get("timezone", row["timezone"]),
                      "external_id": changes.get("external_id", row["external_id"])}
            values["cron"] = cron.checked(values["cron"], values["timezone"])
            return self._apply_update(tx, row, values, self.engine.clock.now())

    def _apply_update(self, tx: Tx, row: Row, values: Record, now: float) -> Record:
        if row["source"] != IMPERATIVE:
            raise _declared(row, "updated")
        retimed = (values["cron"], values["timezone"]) != (row["cron"], row["timezone"])
        next_tick = row["next_tick"]
        if retimed and row["active"]:
            next_tick = cron.next_after(values["cron"], values["timezone"], now)
        tx.run("update_schedule", id=row["id"], next_tick=next_tick, now=now, **values)
        return schedule_record(self._row(tx, row["environment"], row["id"]))

    def _imperative(self, tx: Tx, env: str, schedule_id: str, verb: str) -> Row:
        row = self._row(tx, env, schedule_id)
        if row["source"] != IMPERATIVE:
            raise _declared(row, verb)
        return row

    def activate(self, env: str, schedule_id: str) -> Record:
        """Fire again from the next tick after now; ticks while inactive are not made up."""
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            row = self._row(tx, env, schedule_id)
            if row["inactive_reason"] == REMOVED_FROM_CODE:
                raise ConflictError(
                    f"schedule {schedule_id} is inactive because task {row['task_id']!r} no "
                    "longer declares it in code; deploy code that does", schedule_id=schedule_id)
            if not row["active"]:
                tx.run("set_schedule_active", id=schedule_id, active=1, inactive_reason=None,
                       next_tick=cron.next_after(row["cron"], row["timezone"], now), now=now)
            return schedule_record(self._row(tx, env, schedule_id))

    def deactivate(self, env: str, schedule_id: str) -> Record:
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            row = self._row(tx, env, schedule_id)
            if row["active"]:
                tx.run("set_schedule_active", id=schedule_id, active=0,
                       inactive_reason=DEACTIVATED, next_tick=None, now=now)
            return schedule_record(self._row(tx, env, schedule_id))

    def delete(self, env: str, schedule_id: str) -> Record:
        with self.engine.store.transaction() as tx:
            record = schedule_record(self._imperative(tx, env, schedule_id, "deleted"))
            tx.run("delete_schedule", id=schedule_id, environment=env)
            tx.run("delete_schedule_ticks", schedule_id=schedule_id)
        return record

    # -- declarative sync and firing -------------------------------------------------------

    def sync_declarative(self, tx: Tx, env: str, definitions: Definitions,
                         now: float, *, deactivate_missing: bool = True) -> None:
        """Make the declarative schedules of ``env`` match the tasks a worker just registered."""
        declared = {d.id: spec for d in definitions if (spec := _spec(d)) is not None}
        existing = {r["task_id"]: r for r in tx.all("list_declarative_schedules",
                                                     environment=env)}
        for task_id, (cron_text, tz) in sorted(declared.items()):
            row = existing.get(task_id)
            if row is None:
                tx.run("insert_schedule", id=new_id("sched"), environment=env, task_id=task_id,
                       cron=cron_text, timezone=tz, external_id=None, deduplication_key=None,
                       source=DECLARATIVE, active=1, inactive_reason=None,
                       next_tick=cron.next_after(cron_text, tz, now), now=now)
            else:
                _resync(tx, row, cron_text, tz, now)
        for task_id, row in sorted(existing.items()):
            if task_id not in declared and row["active"] and deactivate_missing:
                log.warning("task %r no longer declares schedule %s; deactivating it",
                            task_id, row["id"])
                tx.run("set_schedule_active", id=row["id"], active=0,
                       inactive_reason=REMOVED_FROM_CODE, next_tick=None, now=now)

    def tick(self, now: float | None = None) -> ticking.TickReport:
        """Fire every due active schedule once (called by the server's scheduler)."""
        return ticking.tick(self.engine, self.engine.clock.now() if now is None else now)


def _resync(tx: Tx, row: Row, cron_text: str, tz: str, now: float) -> None:
    """Bring one declarative row in line with its code: new cron, back from removal."""
    if (row["cron"], row["timezone"]) != (cron_text, tz):
        tx.run("update_schedule", id=row["id"], task_id=row["task_id"], cron=cron_text,
               timezone=tz, external_id=row["external_id"],
               next_tick=cron.next_after(cron_text, tz, now) if row["active"] else None,
               now=now)
    if not row["active"] and row["inactive_reason"] == REMOVED_FROM_CODE:
        tx.run("set_schedule_active", id=row["id"], active=1, inactive_reason=None,
               next_tick=cron.next_after(cron_text, tz, now), now=now)


def _spec(definition: TaskDefinition) -> tuple[str, str] | None:
    """(cron, zone) declared by a task, or None; a bad one is logged and treated as none."""
    schedule = definition.schedule
    if not schedule:
        return None
    try:
        tz = str(schedule.get("timezone") or "UTC")
        return cron.checked(str(schedule.get("cron")), tz), tz
    except ValidationError as exc:
        log.error("task %r declares an invalid schedule: %s", definition.id, exc.message)
        return None


def _declared(row: Row, verb: str) -> ConflictError:
    return ConflictError(
        f"schedule {row['id']} is declared in code by @schedules.task on task "
        f"{row['task_id']!r} and cannot be {verb} through the API; change the decorator "
        "(activate and deactivate still work)", schedule_id=row["id"])
