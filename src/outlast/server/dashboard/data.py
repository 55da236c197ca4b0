"""What the dashboard reads that the engine facade does not offer: queue depths, recent
task statistics and the overview's time series. Read-only, through named queries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from outlast.engine import Engine, hash_key
from outlast.jsonutil import loads
from outlast.store.protocol import Row

RECENT_RUNS = 100
OVERVIEW_LIMIT = 20_000
VERSION_CHOICES = 50
SUCCESS = "COMPLETED"
UNSUCCESSFUL = frozenset({"FAILED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"})


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (q in 0..100); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class TaskStats:
    runs: int
    success_rate: float | None
    p50: float | None
    p95: float | None
    last_run_at: float | None


def task_stats(rows: list[Row]) -> TaskStats:
    """Success rate over finished runs that succeeded or failed; durations of successes."""
    judged = [r for r in rows if r["status"] == SUCCESS or r["status"] in UNSUCCESSFUL]
    ok = [float(r["execution_seconds"]) for r in judged if r["status"] == SUCCESS]
    rate = len(ok) / len(judged) if judged else None
    return TaskStats(len(rows), rate, percentile(ok, 50), percentile(ok, 95),
                     rows[0]["created_at"] if rows else None)


def tasks_with_stats(engine: Engine, env: str) -> list[tuple[dict[str, Any], TaskStats]]:
    tasks = engine.list_tasks(env)
    with engine.store.transaction(write=False) as tx:
        recent = {t["id"]: tx.all("dashboard_task_recent", environment=env, task_id=t["id"],
                                  limit=RECENT_RUNS) for t in tasks}
    return [(t, task_stats(recent[t["id"]])) for t in tasks]


def queues(engine: Engine, env: str) -> list[Row]:
    with engine.store.transaction(write=False) as tx:
        return tx.all("list_queues", environment=env)


def workers(engine: Engine, env: str) -> list[dict[str, Any]]:
    """Live workers, each with the task files it could not import ({} when none)."""
    return [dict(w, queues=loads(w["queues"]),
                 import_errors=loads(w["import_errors"]) if w["import_errors"] else {})
            for w in engine.list_workers(env)]


def version_names(engine: Engine, env: str, limit: int = VERSION_CHOICES) -> list[str]:
    """The environment's newest versions: the runs list's version filter offers them
    (``outlast dev`` makes one per reload, so an old environment has many)."""
    with engine.store.transaction(write=False) as tx:
        rows = tx.all("list_versions", environment=env)
    return [str(r["version"]) for r in rows[:limit]]


def key_environment(engine: Engine, key_digest: str) -> str | None:
    """The environment of a live (unrevoked) key, by the hash a session holds."""
    with engine.store.transaction(write=False) as tx:
        row = tx.one("find_api_key", key_hash=key_digest)
    return None if row is None else str(row["environment"])


def login(engine: Engine, key: str) -> tuple[str, str, str] | None:
    """(environment, key hash, key scope) for a valid key, else None."""
    grant = engine.find_key(key)
    return None if grant is None else (grant.environment, hash_key(key), grant.scope)


def active_counts(engine: Engine, env: str) -> dict[str, int]:
    with engine.store.transaction(write=False) as tx:
        rows = tx.all("dashboard_active_counts", environment=env)
    return {r["status"]: int(r["n"]) for r in rows}


def recent_runs(engine: Engine, env: str, since: float) -> list[Row]:
    with engine.store.transaction(write=False) as tx:
        return tx.all("dashboard_recent_runs", environment=env, since=since,
                      limit=OVERVIEW_LIMIT)
