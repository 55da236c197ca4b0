"""Queues as an operator sees them: counts, pause and resume, limits changed at run time.

A queue's limits come from two places. The code declares them (``Queue(...)``, synced
each time a worker registers its tasks) and an operator may override any of them through
the API, the CLI or the dashboard. Both are kept (``code_limits``, ``overrides``) and the
limit columns the claim reads hold their merge, so a worker restart never undoes an
operator's override; clearing an override returns that limit to the code's value.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from outlast.core.definitions import TaskDefinition
from outlast.core.limits import LIMITS, check_limits
from outlast.engine import events
from outlast.errors import NotFoundError, ValidationError
from outlast.jsonutil import dumps, loads
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

def merged(code: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The limits in force: an operator's override where there is one, else the code's."""
    return {name: overrides[name] if name in overrides else code.get(name) for name in LIMITS}


def code_limits(d: TaskDefinition) -> dict[str, Any]:
    return {"concurrency_limit": d.concurrency_limit, "total_limit": d.total_limit,
            "rate_limit": d.rate_limit, "key_rate_limit": d.key_rate_limit}


def queue_record(row: Row, queued: int, running: int) -> dict[str, Any]:
    overrides = loads(row["overrides"]) if row.get("overrides") else {}
    code = loads(row["code_limits"]) if row.get("code_limits") else {
        "concurrency_limit": row["concurrency_limit"]}
    record: dict[str, Any] = {"name": row["name"], "queued": queued, "running": running,
                              "paused": bool(row["paused"])}
    record.update({name: row.get(name) for name in LIMITS})
    record.update({"code": {n: code.get(n) for n in LIMITS}, "overrides": overrides,
                   "updated_at": row["updated_at"]})
    return record


def sync_code(tx: Tx, env: str, definitions: list[TaskDefinition], now: float) -> None:
    """Record what the code declares for each queue, keeping operators' overrides."""
    declared = {d.queue: code_limits(d) for d in definitions}
    for name, code in sorted(declared.items()):
        row = tx.one("lock_queue", environment=env, name=name)
        overrides = loads(row["overrides"]) if row and row.get("overrides") else {}
        tx.run("sync_queue", environment=env, name=name, code_limits=dumps(code), now=now,
               **merged(code, overrides))


class QueueOps:
    """``engine.queues``: list, retrieve, pause, resume, update; the environment limit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, env: str) -> list[dict[str, Any]]:
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_queues", environment=env)
        return [queue_record(r, int(r["queued"]), int(r["running"])) for r in rows]

    def retrieve(self, env: str, name: str) -> dict[str, Any]:
        with self.engine.store.transaction(write=False) as tx:
            return self._record(tx, env, self._row(tx, env, name))

    def pause(self, env: str, name: str) -> dict[str, Any]:
        """A paused queue starts nothing; its running runs finish and TTLs still expire."""
        return self._set_paused(env, name, True)

    def resume(self, env: str, name: str) -> dict[str, Any]:
        return self._set_paused(env, name, False)

    def update(self, env: str, name: str, changes: Mapping[str, Any],
               reset: builtins.list[str] | None = None) -> dict[str, Any]:
        """Override limits (None: no limit) and drop the overrides named in ``reset``."""
        values = check_limits(changes)
        for field in reset or []:
            if field not in LIMITS:
                raise ValidationError(f"reset: unknown limit {field!r}; expected some of "
                                      f"{', '.join(LIMITS)}")
        now = self.engine.clock.now()
        with self.engine.store.transaction() as tx:
            row = self._row(tx, env, name, lock=True)
            overrides = loads(row["overrides"]) if row.get("overrides") else {}
            overrides = {k: v for k, v in overrides.items() if k not in (reset or [])} | values
            code = loads(row["code_limits"]) if row.get("code_limits") else {
                "concurrency_limit": row["concurrency_limit"]}
            tx.run("set_queue_limits", environment=env, name=name, now=now,
                   overrides=dumps(overrides) if overrides else None, **merged(code, overrides))
            tx.notify(events.QUEUED_CHANNEL, name)  # room may have opened: wake workers
            return self._record(tx, env, self._row(tx, env, name))

    def environment_limit(self, env: str) -> dict[str, Any]:
        with self.engine.store.transaction(write=False) as tx:
            row = tx.one("get_environment_limit", environment=env)
            running = tx.one("executing_in_environment", environment=env)
        stored = row["concurrency_limit"] if row is not None else None
        limit = stored if stored is not None else self.engine.settings.env_concurrency_limit
        return {"environment": env, "running": int(running["running"]) if running else 0,
                "concurrency_limit": limit, "source": "api" if stored is not None else "config"}

    def set_environment_limit(self, env: str, limit: int | None) -> dict[str, Any]:
        """Cap EXECUTING runs across every queue of ``env`` (None: back to the config)."""
        if limit is not None:
            check_limits({"concurrency_limit": limit})
        with self.engine.store.transaction() as tx:
            tx.run("set_environment_limit", environment=env, concurrency_limit=limit,
                   now=self.engine.clock.now())
            tx.notify(events.QUEUED_CHANNEL, "*")
        return self.environment_limit(env)

    # -- helpers -----------------------------------------------------------------------

    def _set_paused(self, env: str, name: str, paused: bool) -> dict[str, Any]:
        with self.engine.store.transaction() as tx:
            self._row(tx, env, name, lock=True)
            tx.run("set_queue_paused", environment=env, name=name, paused=int(paused),
                   now=self.engine.clock.now())
            if not paused:
                tx.notify(events.QUEUED_CHANNEL, name)
            return self._record(tx, env, self._row(tx, env, name))

    def _row(self, tx: Tx, env: str, name: str, lock: bool = False) -> Row:
        row = tx.one("lock_queue" if lock else "get_queue", environment=env, name=name)
        if row is None:
            raise NotFoundError(
                f"no queue {name!r} in environment {env!r}: queues appear when a worker "
                "registers the tasks that use them", queue=name)
        return row

    def _record(self, tx: Tx, env: str, row: Row) -> dict[str, Any]:
        counts = tx.one("queue_counts", environment=env, name=row["name"])
        assert counts is not None
        return queue_record(row, int(counts["queued"]), int(counts["running"]))
