"""Which finished runs may be deleted: pure rules over facts read from the store.

The rules, in the order they apply:

- A run's retention is its task's (``@task(retention=...)``, else the ``[retention]`` of
  the environment its worker registered it from, else the defaults) for its kind of end:
  ``failed`` for ``core.retention.FAILED_STATUSES``, ``finished`` for the other final ones.
- It counts from when the run finished, or from when its idempotency key expires if that
  is later: a trigger with a key that still lives must find its run, so the key never
  outlives the run (the run outlives the key instead, by one retention at most).
- Runs go by whole trees (a root and every run below it) and whole batches (the trees of
  every member of a top-level batch): a tree or batch is deleted only once every run in
  it is final, has no ``on_success``/``on_failure`` hook left to call, and is past its own
  time. So a finished child whose parent still waits stays, and a batch with one live
  member keeps all of them; each run is kept at least its own retention.

``engine/pruning.py`` reads the facts and deletes; nothing here touches the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from outlast.core.retention import Retention
from outlast.engine.statuses import FINAL, RunStatus
from outlast.store.protocol import Row

#: the final statuses, in a fixed order (candidates are scanned per task and status)
FINAL_STATUSES: tuple[str, ...] = tuple(s.value for s in RunStatus if s in FINAL)


@dataclass(frozen=True)
class Policy:
    """The retention of each task in one environment; ``older_than`` overrides them all
    (``outlast prune --older-than``)."""

    tasks: Mapping[str, Retention] = field(default_factory=dict)
    fallback: Retention = field(default_factory=Retention)
    older_than: float | None = None

    def period(self, task_id: str, status: str) -> float | None:
        """Seconds a run of ``task_id`` that ended ``status`` is kept; None: forever."""
        if self.older_than is not None:
            return self.older_than
        return self.tasks.get(task_id, self.fallback).for_status(status)


def keep_until(fact: Row, policy: Policy) -> float:
    """Until when the runs of one facts row (a tree's runs of one task and status) must
    stay: ``math.inf`` while any is active, has a hook to call, or is kept forever."""
    if fact["status"] not in FINAL_STATUSES or fact["hooks"]:
        return math.inf
    period = policy.period(fact["task_id"], fact["status"])
    if period is None:
        return math.inf
    since = max(fact["finished_at"] or 0.0, fact["key_expires_at"] or 0.0)
    return since + period


def deletable(facts: list[Row], policy: Policy, now: float) -> bool:
    """May the runs these facts describe (one tree or batch) all be deleted at ``now``?"""
    return bool(facts) and all(keep_until(f, policy) < now for f in facts)


def groups(candidates: list[Row], batch_trees: list[Row]) -> list[frozenset[str]]:
    """The units that go together: each candidate root's tree, joined with the trees of
    its batch's other members."""
    by_batch: dict[str, set[str]] = {}
    for row in batch_trees:
        by_batch.setdefault(row["batch_id"], set()).add(row["tree"])
    out: dict[frozenset[str], None] = {}
    for row in candidates:
        trees = {row["id"]} | by_batch.get(row["batch_id"] or "", set())
        out[frozenset(trees)] = None
    return list(out)
