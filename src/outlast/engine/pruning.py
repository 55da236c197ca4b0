"""Deleting finished runs whose retention is over, in bounded batches, on both stores.

``engine/retention.py`` says which runs may go; this module finds them and deletes them
with every row of theirs, child rows first, one transaction per batch of at most
``batch_size`` runs, so no lock is held long and no single commit writes a burst of log.

Finding them: for each task with runs and each final status, ``retention_candidates``
reads the finished top-level runs whose time is up, oldest first, from one partial index
(migration 0019); runs below a root are reached through their root, so the whole tree is
deleted together, children before the root (an interrupted deletion leaves the root, and
the next pass finds it again). A candidate whose tree or batch must still stay is passed
over by a cursor kept between calls (``Cursors``), so a few long-lived trees at the head
of the index never stop the runs behind them from going.

Blobs (``engine/blobs.py``) go with their runs: once a batch's transaction committed, the
blobs of its runs are deleted (a file, a table row or an object is not part of the
transaction; deleted after it, a blob is never missing under a row that still exists).
One left behind by a crash between the two, or by a write whose row never committed, is
an orphan: ``orphans`` deletes the blobs of runs that no longer exist, once a day old.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from outlast.core.definitions import TaskDefinition
from outlast.core.retention import Retention
from outlast.engine.blobs import Blobs
from outlast.engine.retention import FINAL_STATUSES, Policy, deletable, groups
from outlast.jsonutil import loads
from outlast.store.protocol import Row, Store

if TYPE_CHECKING:
    from outlast.engine import Engine

#: every table holding rows of a run, children first; ``runs`` last
TABLES: tuple[str, ...] = (
    "run_events", "run_logs", "attempts", "run_journal", "run_tags", "run_stream_chunks",
    "waitpoints", "alert_outbox", "schedule_ticks", "debounces", "runs",
)
#: the statement that deletes a batch's rows from each table
DELETES: dict[str, str] = {
    "run_events": "retention_delete_run_events",
    "run_logs": "retention_delete_run_logs",
    "attempts": "retention_delete_attempts",
    "run_journal": "retention_delete_run_journal",
    "run_tags": "retention_delete_run_tags",
    "run_stream_chunks": "retention_delete_run_stream_chunks",
    "waitpoints": "retention_delete_waitpoints",
    "alert_outbox": "retention_delete_alert_outbox",
    "schedule_ticks": "retention_delete_schedule_ticks",
    "debounces": "retention_delete_debounces",
    "runs": "retention_delete_runs",
}
BATCH_SIZE = 500
#: seconds before a blob whose run does not exist counts as an orphan
ORPHAN_AGE = 86_400.0
#: where a (environment, task, status) scan resumes: (since, id) of the last run passed
Cursors = dict[tuple[str, str, str], tuple[float, str]]
_START = (-1.0, "")


@dataclass
class PruneReport:
    """What one call deleted (or, dry, would delete), per table."""

    environment: str
    dry_run: bool = False
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    batches: int = 0
    #: runs whose blobs were deleted with them
    blobs: int = 0
    #: False when the call stopped at its budget with runs still to delete
    complete: bool = True

    @property
    def runs(self) -> int:
        return self.rows["runs"]

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def add(self, counts: dict[str, int]) -> None:
        for table in TABLES:
            self.rows[table] += int(counts.get(table) or 0)


@dataclass(frozen=True)
class PruneLimits:
    """``budget``: runs one call deletes at most (None: all that are due); ``pause``
    is called between batches (upkeep: a short wait that also notices a stop)."""

    batch_size: int = BATCH_SIZE
    budget: int | None = None
    pause: Callable[[], None] = lambda: None


class Pruning:
    """One pruning call over one environment."""

    def __init__(self, store: Store, env: str, policy: Policy, now: float, *,
                 dry_run: bool, limits: PruneLimits, cursors: Cursors,
                 blobs: Blobs | None = None) -> None:
        self.store, self.env, self.policy, self.now = store, env, policy, now
        self.blobs = blobs
        #: runs deleted by the open batch, whose blobs go once it committed
        self._deleted: list[str] = []
        self.limits = limits
        self.cursors = cursors
        self.report = PruneReport(env, dry_run)
        self._seen: set[str] = set()

    def run(self) -> PruneReport:
        with self.store.transaction(write=False) as tx:
            task_ids = [r["task_id"] for r in tx.all("retention_task_ids", environment=self.env)]
        for task_id in task_ids:
            for status in FINAL_STATUSES:
                if not self._scan(task_id, status):
                    self.report.complete = False
                    return self.report
        return self.report

    def _scan(self, task_id: str, status: str) -> bool:
        """Walk one (task, status) to its end; False when the budget ran out."""
        period = self.policy.period(task_id, status)
        if period is None:
            return True
        key = (self.env, task_id, status)
        while True:
            after = self.cursors.get(key, _START)
            with self.store.transaction(write=False) as tx:
                rows = tx.all("retention_candidates", environment=self.env, task_id=task_id,
                              status=status, before=self.now - period, after_since=after[0],
                              after_id=after[1], limit=self.limits.batch_size)
                doomed = self._doomed(tx, rows)
            if not self._remove(doomed):
                return False  # the cursor stays: this page is read again next time
            if len(rows) < self.limits.batch_size:
                self.cursors.pop(key, None)
                return True
            self.cursors[key] = (float(rows[-1]["since"]), str(rows[-1]["id"]))

    def _doomed(self, tx: Any, candidates: list[Row]) -> list[tuple[list[str], int]]:
        """(trees, runs) of each group among ``candidates`` that may go now."""
        if not candidates:
            return []
        batch_ids = sorted({r["batch_id"] for r in candidates if r["batch_id"]})
        batch_trees = tx.all("retention_batch_trees", batch_ids=batch_ids) if batch_ids else []
        units = [g for g in groups(candidates, batch_trees) if not g & self._seen]
        trees = sorted({tree for unit in units for tree in unit})
        facts: dict[str, list[Row]] = {}
        for row in tx.all("retention_tree_facts", trees=trees) if trees else []:
            facts.setdefault(row["tree"], []).append(row)
        out = []
        for unit in units:
            if unit & self._seen or any(t not in facts for t in unit):
                continue  # handled already, or a tree deleted meanwhile
            unit_facts = [f for t in unit for f in facts[t]]
            if deletable(unit_facts, self.policy, self.now):
                self._seen |= unit
                out.append((sorted(unit), sum(int(f["runs"]) for f in unit_facts)))
        return out

    def _remove(self, doomed: list[tuple[list[str], int]]) -> bool:
        """Delete (or count) the groups, packing small ones into shared batches."""
        size = self.limits.batch_size
        pending: list[str] = []
        pending_runs = 0
        for trees, runs in doomed:
            if runs > size:
                if not (self._flush(pending) and self._large(trees)):
                    return False
                pending, pending_runs = [], 0
                continue
            if pending_runs + runs > size:
                if not self._flush(pending):
                    return False
                pending, pending_runs = [], 0
            pending.extend(trees)
            pending_runs += runs
        return self._flush(pending)

    def _flush(self, trees: list[str]) -> bool:
        """One batch: whole small trees, children and roots in one transaction."""
        if not trees:
            return True
        if not self._budget_left():
            return False
        if self.report.dry_run:
            self._count(trees)
            return True
        with self.store.transaction() as tx:
            children = [r["id"] for r in tx.all("retention_children", trees=trees,
                                                limit=self.limits.batch_size)]
            self._delete(tx, children + trees)
        self._after_batch()
        return True

    def _large(self, trees: list[str]) -> bool:
        """A tree or batch over one batch: its children a batch at a time, roots last."""
        if self.report.dry_run:
            if not self._budget_left():
                return False
            self._count(trees)
            return True
        size = self.limits.batch_size
        while True:
            if not self._budget_left():
                return False
            with self.store.transaction() as tx:
                children = [r["id"] for r in tx.all("retention_children", trees=trees,
                                                    limit=size)]
                if children:
                    self._delete(tx, children)
            if not children:
                break
            self._after_batch()
        for start in range(0, len(trees), size):
            if not self._budget_left():
                return False
            with self.store.transaction() as tx:
                self._delete(tx, trees[start:start + size])
            self._after_batch()
        return True

    def _count(self, trees: list[str]) -> None:
        with self.store.transaction(write=False) as tx:
            row = tx.one("retention_count", trees=trees) or {}
        self.report.add(row)
        self.report.batches += 1

    def _delete(self, tx: Any, ids: list[str]) -> None:
        self.report.add({table: tx.run(DELETES[table], ids=ids) for table in TABLES})
        self._deleted.extend(ids)

    def _after_batch(self) -> None:
        """The batch committed: delete its runs' blobs, then pause."""
        if self.blobs is not None and self._deleted:
            self.report.blobs += self.blobs.delete_runs(self._deleted)
        self._deleted = []
        self.report.batches += 1
        self.limits.pause()

    def _budget_left(self) -> bool:
        budget = self.limits.budget
        return budget is None or self.report.runs < budget


class RetentionOps:
    """The engine's retention member: policies, pruning, and what upkeep last pruned."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def policy(self, env: str, older_than: float | None = None) -> Policy:
        """Each registered task's retention in ``env`` (the defaults for the others)."""
        with self.engine.store.transaction(write=False) as tx:
            rows = tx.all("list_tasks", environment=env)
        tasks: dict[str, Retention] = {}
        for row in rows:
            definition = TaskDefinition.from_dict(loads(row["definition"]))
            tasks[definition.id] = definition.retention or Retention()
        return Policy(tasks=tasks, older_than=older_than)

    def environments(self) -> list[str]:
        with self.engine.store.transaction(write=False) as tx:
            return [r["environment"] for r in tx.all("retention_environments")]

    def prune(self, env: str, *, dry_run: bool = False, older_than: float | None = None,
              limits: PruneLimits | None = None,
              cursors: Cursors | None = None) -> PruneReport:
        """Delete (``dry_run``: count) the runs of ``env`` whose retention is over."""
        policy = self.policy(env, older_than)
        pruning = Pruning(self.engine.store, env, policy, self.engine.clock.now(),
                          dry_run=dry_run, limits=limits or PruneLimits(),
                          cursors={} if cursors is None else cursors,
                          blobs=self.engine.blobs)
        return pruning.run()

    def orphans(self, older_than: float = ORPHAN_AGE, limit: int = 1000) -> int:
        """Delete the blobs of runs that do not exist (a trigger rolled back, a prune
        interrupted between its commit and the blobs) once ``older_than`` seconds old;
        how many runs' blobs went. A blob younger than that may belong to a row whose
        transaction has not committed yet."""
        blobs = self.engine.blobs
        owners = blobs.store.owners(older_than)[:limit]
        if not owners:
            return 0
        with self.engine.store.transaction(write=False) as tx:
            alive = {r["id"] for r in tx.all("existing_run_ids", ids=owners)}
            alive |= {r["id"] for r in tx.all("existing_waitpoint_ids", ids=owners)}
        return blobs.delete_runs([o for o in owners if o not in alive])

    def record(self, report: PruneReport) -> None:
        """Note when ``report``'s environment was pruned and how many runs went."""
        with self.engine.store.transaction() as tx:
            tx.run("retention_record_pass", environment=report.environment,
                   now=self.engine.clock.now(), runs=report.runs)

    def status(self) -> list[dict[str, Any]]:
        """Per environment: when it was last pruned, the runs that pass deleted, and the
        runs deleted in all."""
        with self.engine.store.transaction(write=False) as tx:
            return [dict(r) for r in tx.all("retention_status")]
