"""Versions as an operator sees them: what each one runs, who runs it, whether it may stop.

An operator stopping the workers of an old version needs one answer: does anything still
need them? Runs pinned to a version are resumed, retried and re-claimed only by its
workers (``engine/versions.py``), so a version that is not current and has no unfinished
run pinned to it is *drained*: its workers can stop without leaving a run waiting for
them. ``safe_to_stop`` is that answer; ``retire`` refuses while it is not true, and says
what to do instead (move the runs, or wait for them).

Workers count as live the way the Workers page counts them (``Engine.list_workers``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from outlast.core.versions import CURRENT, RETIRED, check_version
from outlast.engine import events
from outlast.engine import versions as registry
from outlast.errors import ConflictError, NotFoundError
from outlast.jsonutil import loads
from outlast.store.protocol import Row, Tx

if TYPE_CHECKING:
    from outlast.engine import Engine

log = logging.getLogger("outlast.versions")

#: the worker fields a version's record shows (the rest are the Workers page's business)
WORKER_FIELDS = ("id", "hostname", "pid", "concurrency", "started_at", "heartbeat_at")


def version_record(row: Row, tasks: list[str], workers: list[Row],
                   pinned: dict[str, int]) -> dict[str, Any]:
    """Pure: a version's JSON record from its row, tasks, live workers and pinned runs."""
    return {
        "version": row["version"], "environment": row["environment"], "state": row["state"],
        "source": row["source"], "created_at": row["created_at"],
        "promoted_at": row["promoted_at"], "retired_at": row["retired_at"],
        "tasks": tasks, "live_workers": len(workers), "pinned_runs": dict(sorted(
            pinned.items())),
        "safe_to_stop": row["state"] != CURRENT and not pinned,
    }


def worker_record(row: Row) -> dict[str, Any]:
    return {name: row[name] for name in WORKER_FIELDS} | {"queues": loads(row["queues"])}


def blockers(version: str, state: str, pinned: dict[str, int]) -> str | None:
    """Pure: why ``version`` cannot be retired (its workers are still needed), or None."""
    if state == CURRENT:
        return (f"version {version} is current: new runs go to it. Promote another version "
                "first (outlast versions promote V)")
    if pinned:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(pinned.items()))
        total = sum(pinned.values())
        return (f"version {version} still has {total} unfinished run{'s' if total != 1 else ''}"
                f" pinned to it ({counts}); wait for them to finish, or move them to another "
                f"version (outlast runs move ID --version V)")
    return None


class VersionAdmin:
    """List, show, promote and retire versions; say whether one is drained."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def list(self, env: str) -> list[dict[str, Any]]:
        """Every version of ``env``, newest first, with its tasks, live workers and runs."""
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_versions", environment=env)
            tasks: dict[str, list[str]] = defaultdict(list)
            for r in tx.all("version_tasks_of_environment", environment=env):
                tasks[r["version"]].append(r["task_id"])
            pinned = _pinned(tx, env)
            workers = _workers_by_version(self.engine, tx, env)
        return [version_record(r, tasks[r["version"]], workers[r["version"]],
                               pinned[r["version"]]) for r in rows]

    def get(self, env: str, version: str) -> dict[str, Any]:
        """One version with its task definitions and the list of its live workers."""
        check_version(version)
        with self.engine.store.transaction(write=False) as tx:
            return self._detail(tx, env, self._row(tx, env, version))

    def promote(self, env: str, version: str) -> dict[str, Any]:
        """``version`` becomes current (a retired one too); the one that was drains."""
        check_version(version)
        with self.engine.store.transaction() as tx:
            row = self._row(tx, env, version, lock=True)
            before = registry.current(tx, env)
            if row["state"] != CURRENT:
                registry.make_current(tx, env, version, self.engine.clock.now())
                tx.notify(events.QUEUED_CHANNEL, "*")  # its workers take the new runs now
            detail = self._detail(tx, env, self._row(tx, env, version))
        if before == version:
            log.info("version %s of %s is already current", version, env)
        else:
            log.info("version %s of %s is current%s", version, env,
                     f"; {before} is draining" if before else "")
        return detail

    def retire(self, env: str, version: str) -> dict[str, Any]:
        """Mark ``version`` retired; refused (409) while it is current or runs need it."""
        check_version(version)
        with self.engine.store.transaction() as tx:
            row = self._row(tx, env, version, lock=True)
            why = blockers(version, row["state"], _pinned(tx, env)[version])
            if why is not None:
                raise ConflictError(f"cannot retire: {why}", version=version)
            if row["state"] != RETIRED:
                tx.run("retire_version", environment=env, version=version,
                       now=self.engine.clock.now())
            detail = self._detail(tx, env, self._row(tx, env, version))
        log.info("version %s of %s is retired", version, env)
        return detail

    def drained(self, env: str, version: str) -> bool:
        """True when ``version`` is not current and no unfinished run is pinned to it: its
        workers may stop. A version never registered has nothing pinned to it either."""
        with self.engine.store.transaction(write=False) as tx:
            if registry.state_of(tx, env, version) == CURRENT:
                return False
            return tx.one("pinned_active_run", environment=env, version=version) is None

    # -- helpers -----------------------------------------------------------------------

    def _row(self, tx: Tx, env: str, version: str, lock: bool = False) -> Row:
        row = tx.one("lock_version" if lock else "get_version", environment=env,
                     version=version)
        if row is None:
            raise NotFoundError(
                f"no version {version!r} in environment {env!r}: versions appear when a "
                "worker of that code starts, or with `outlast deploy`", version=version)
        return row

    def _detail(self, tx: Tx, env: str, row: Row) -> dict[str, Any]:
        version = row["version"]
        definitions = [loads(r["definition"]) for r in
                       tx.all("version_task_definitions", environment=env, version=version)]
        workers = _workers_by_version(self.engine, tx, env)[version]
        record = version_record(row, [d["id"] for d in definitions], workers,
                                _pinned(tx, env)[version])
        return record | {"definitions": definitions,
                         "workers": [worker_record(w) for w in workers]}


def _pinned(tx: Tx, env: str) -> defaultdict[str, dict[str, int]]:
    """{version: {status: unfinished runs pinned to it}}."""
    pinned: defaultdict[str, dict[str, int]] = defaultdict(dict)
    for r in tx.all("pinned_run_counts", environment=env):
        pinned[r["version"]][r["status"]] = int(r["n"])
    return pinned


def _workers_by_version(engine: Engine, tx: Tx, env: str) -> defaultdict[str, list[Row]]:
    """Live workers (as the Workers page judges them) by the version of code they run."""
    workers: defaultdict[str, list[Row]] = defaultdict(list)
    for w in engine._workers(tx, env):  # the Workers page's rule for "live"
        if w.get("code_version"):
            workers[w["code_version"]].append(w)
    return workers
