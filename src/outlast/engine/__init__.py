"""The engine facade: every operation on runs, delegating to one module per concern.

``triggering`` creates runs, ``dequeue`` claims them, ``attempts`` records how attempts
ended, ``transitions`` is the only writer of run state, ``sweeper`` does time-driven
upkeep. The facade owns the store, the clock and a short cache of task definitions.

A worker's supervisor needs only the part that triggers, claims, records and registers:
the operator's parts (listing, traces, pruning, bulk actions, version admin, ...) are
made and loaded on first use, so that a worker starts without them.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from outlast.clock import Clock, SystemClock
from outlast.core.definitions import TaskDefinition
from outlast.core.import_failures import no_worker_has
from outlast.core.key_scopes import FULL, check_scope
from outlast.core.options import TriggerOptions
from outlast.core.outcomes import Outcome
from outlast.core.retry import Retry
from outlast.core.settings import DEFAULT_PUBLIC_URL, Settings
from outlast.core.versions import SOURCE_DEV
from outlast.engine import (
    attempts,
    dequeue,
    hook_reports,
    journal,
    queues,
    sweeper,
    transitions,
    versions,
    waitpoints,
)
from outlast.engine.attempts import Decision, RunFacts
from outlast.engine.blobs import Blobs
from outlast.engine.dequeue import WorkerCode
from outlast.engine.records import attempt_record, event_record, log_record, run_record
from outlast.engine.schedules import Schedules
from outlast.engine.statuses import FINAL, RunStatus
from outlast.engine.triggering import (
    MAX_BATCH,
    NewRun,
    PlainBatch,
    Triggered,
    TriggerItem,
    trigger_many,
    trigger_plain,
)
from outlast.errors import (
    InvalidTransitionError,
    RunNotFoundError,
    TaskNotFoundError,
    ValidationError,
    at_item,
)
from outlast.ids import new_id, new_secret
from outlast.jsonutil import dumps, loads
from outlast.store.blobs import open_blob_url
from outlast.store.protocol import Row, Store, Tx

if TYPE_CHECKING:
    from outlast.engine import trace
    from outlast.engine.bulk import BulkActions
    from outlast.engine.durable_ops import DurableOps
    from outlast.engine.failures import ErrorGroups
    from outlast.engine.metadata import MetadataOps
    from outlast.engine.parking import ParkingOps
    from outlast.engine.pruning import RetentionOps
    from outlast.engine.realtime import RealtimeOps
    from outlast.engine.tags import TagOps
    from outlast.engine.trace import Records as TraceRecords
    from outlast.engine.trigger_groups import TriggerGroups
    from outlast.engine.version_admin import VersionAdmin

__all__ = ["Engine", "KeyGrant", "NewRun", "Outcome", "Triggered", "WorkerCode"]

_DEFINITION_TTL = 2.0
#: status events read to work out a run's waiting time (a run has a few per attempt)
MAX_STATUS_EVENTS = 10_000


@dataclass(frozen=True)
class KeyGrant:
    """What an API key is: the environment it acts in and what it may do there."""

    environment: str
    scope: str


class Engine:
    def __init__(self, store: Store, clock: Clock | None = None,
                 lease_seconds: float | None = None, settings: Settings | None = None) -> None:
        """``settings`` come from the process's entry point (``read_settings``); without
        them, an empty environment's. The engine never reads the environment itself."""
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.settings = settings or Settings()
        #: how long an attempt owns its run without a heartbeat (OUTLAST_LEASE_SECONDS)
        self.lease_seconds = lease_seconds or self.settings.lease_seconds
        #: the address token callback URLs point at (OUTLAST_PUBLIC_URL)
        self.public_url = self.settings.public_url or DEFAULT_PUBLIC_URL
        self._definitions: dict[tuple[str, str], tuple[TaskDefinition, float]] = {}
        #: large payloads, outputs, step results and wait outputs (``engine/blobs.py``)
        self.blobs = Blobs(
            open_blob_url(self.settings.blob_url) if self.settings.blob_url
            else store.blob_store(),
            self.settings.blob_threshold, self.settings.max_payload_bytes)
        #: cron schedules: CRUD, declarative sync, and ``tick`` for the scheduler
        self.schedules = Schedules(self)
        #: queues: counts, pause and resume, limits changed at run time
        self.queues = queues.QueueOps(self)

    # The parts below are made (and their modules loaded) on first use: see the docstring.

    @cached_property
    def durable(self) -> DurableOps:
        """Steps, sleeps, waits and child runs of attempts: their journal and tokens."""
        from outlast.engine.durable_ops import DurableOps

        return DurableOps(self)

    @cached_property
    def realtime(self) -> RealtimeOps:
        """Metadata and streams written by attempts, and the feeds subscribers read."""
        from outlast.engine.realtime import RealtimeOps

        return RealtimeOps(self)

    @cached_property
    def metadata(self) -> MetadataOps:
        """Metadata writes: an attempt's own, its parent's or root's, and from outside."""
        from outlast.engine.metadata import MetadataOps

        return MetadataOps(self)

    @cached_property
    def tags(self) -> TagOps:
        """Tags added after a run was triggered."""
        from outlast.engine.tags import TagOps

        return TagOps(self)

    @cached_property
    def parking(self) -> ParkingOps:
        """Parked runs: resume them, or move runs to another version."""
        from outlast.engine.parking import ParkingOps

        return ParkingOps(self)

    @cached_property
    def retention(self) -> RetentionOps:
        """Deleting finished runs whose retention is over (``outlast prune``, upkeep)."""
        from outlast.engine.pruning import RetentionOps

        return RetentionOps(self)

    @cached_property
    def _versions(self) -> VersionAdmin:
        from outlast.engine.version_admin import VersionAdmin

        return VersionAdmin(self)

    @cached_property
    def errors(self) -> ErrorGroups:
        """Failed attempts grouped by fingerprint (the Errors page)."""
        from outlast.engine.failures import ErrorGroups

        return ErrorGroups(self)

    @cached_property
    def bulk(self) -> BulkActions:
        """Cancel or replay every run a filter lists, as a record with progress."""
        from outlast.engine.bulk import BulkActions

        return BulkActions(self)

    @cached_property
    def _trigger_groups(self) -> TriggerGroups[TriggerItem]:
        """Concurrent single triggers share a transaction (``trigger_groups.py``)."""
        from outlast.engine.trigger_groups import TriggerGroups

        return TriggerGroups(self._write_triggers)

    def ping(self) -> bool:
        """True when the store answers a trivial query (``/healthz``)."""
        with self.store.transaction(write=False) as tx:
            return tx.one("ping") is not None

    # -- tasks -------------------------------------------------------------------------

    def register_tasks(self, env: str, definitions: list[TaskDefinition], *,
                       complete: bool = True) -> None:
        """Record task definitions (and their queues) so any process can trigger by id.

        ``definitions`` is everything one worker's code defines: declarative schedules
        follow it, and one whose task is missing from it is deactivated, unless the list
        is not ``complete`` (a task file failed to import: its tasks are not gone).
        """
        now = self.clock.now()
        with self.store.transaction() as tx:
            self._register_tasks_in(tx, env, definitions, now, complete)
        self._cache_definitions(env, definitions)

    def _register_tasks_in(self, tx: Tx, env: str, definitions: list[TaskDefinition],
                           now: float, complete: bool) -> None:
        # one batch, not a round trip per task: a worker's first claim waits for this
        tx.many("upsert_task", [{"environment": env, "id": d.id, "queue": d.queue,
                                 "definition": dumps(d.to_dict()), "now": now}
                                for d in definitions])
        queues.sync_code(tx, env, definitions, now)
        self.schedules.sync_declarative(tx, env, definitions, now,
                                        deactivate_missing=complete)

    def _cache_definitions(self, env: str, definitions: list[TaskDefinition]) -> None:
        stamp = time.monotonic()
        for d in definitions:
            self._definitions[(env, d.id)] = (d, stamp)

    def definition(self, env: str, task_id: str, tx: Tx | None = None) -> TaskDefinition:
        """A task's registered definition, cached a couple of seconds.

        ``tx``: the caller's open transaction, which a stale cache is read in (a store
        opens no transaction inside another).
        """
        cached = self._definitions.get((env, task_id))
        if cached and time.monotonic() - cached[1] < _DEFINITION_TTL:
            return cached[0]
        if tx is None:
            with self.store.transaction(write=False) as own:
                return self._read_definition(own, env, task_id)
        return self._read_definition(tx, env, task_id)

    def _read_definition(self, tx: Tx, env: str, task_id: str) -> TaskDefinition:
        row = tx.one("get_task", environment=env, id=task_id)
        if row is None:
            failures = self._import_failures(tx, env)
            if failures:  # a file that failed to import most likely holds it: say so
                raise TaskNotFoundError(no_worker_has(task_id, failures), task=task_id)
            raise TaskNotFoundError(
                f"unknown task {task_id!r} in environment {env!r}: no worker has registered it "
                "(start `outlast dev` or a worker that imports it)", task=task_id,
            )
        definition = TaskDefinition.from_dict(loads(row["definition"]))
        self._definitions[(env, task_id)] = (definition, time.monotonic())
        return definition

    def list_tasks(self, env: str) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.all("list_tasks", environment=env)
        return [loads(r["definition"]) | {"updated_at": r["updated_at"]} for r in rows]

    # -- triggering ----------------------------------------------------------------------

    def trigger(self, env: str, request: NewRun) -> Triggered:
        """Create one run. Triggers that arrive from other threads while one is written
        are written together next, in one transaction (``trigger_groups.py``). A task id
        no worker registered fails here, alone, before it could join a group."""
        return self._trigger_groups.trigger(env, (self.definition(env, request.task_id),
                                                  request))

    def trigger_batch(self, env: str,
                      requests: list[NewRun] | PlainBatch) -> list[Triggered]:
        """Create runs in one transaction: all of them or, on any error, none. A
        ``PlainBatch``'s requests are made (its payloads checked) as the runs are written."""
        if len(requests) > MAX_BATCH:
            raise ValidationError(f"a batch holds at most {MAX_BATCH} items, got {len(requests)}")
        if isinstance(requests, PlainBatch):
            return self._write_plain(env, requests)
        definitions: dict[str, TaskDefinition] = {}  # each task's looked up once
        items: list[TriggerItem] = []
        for index, r in enumerate(requests):
            definition = definitions.get(r.task_id)
            if definition is None:
                try:
                    definition = definitions[r.task_id] = self.definition(env, r.task_id)
                except TaskNotFoundError as error:  # which item names it
                    raise at_item(error, index) from None
            items.append((definition, r))
        return self._write_triggers(env, items)

    def _write_plain(self, env: str, batch: PlainBatch) -> list[Triggered]:
        try:
            definition = self.definition(env, batch.task_id)
        except TaskNotFoundError:
            batch.check()  # an item's own error first, as in a list's
            raise
        now = self.clock.now()
        with self.store.transaction() as tx:
            return trigger_plain(tx, env, definition, batch, now, self.blobs)

    def _write_triggers(self, env: str, items: list[TriggerItem]) -> list[Triggered]:
        now = self.clock.now()
        with self.store.transaction() as tx:
            return trigger_many(tx, env, items, now, self.blobs)

    def replay(self, env: str, run_id: str, payload_json: str | None = None) -> Triggered:
        """A new run of the same task with the same (or an edited) payload."""
        row = self._run_row(env, run_id)
        # a copy of a kept-apart payload: the new run gets its own blob
        payload = payload_json or self.blobs.text(row["payload"])
        return self.trigger(env, replay_request(row, payload))

    # -- reading ---------------------------------------------------------------------------

    def _run_row(self, env: str, run_id: str) -> Row:
        with self.store.transaction(write=False) as tx:
            row = tx.one("get_run", id=run_id, environment=env)
        if row is None:
            raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}", run_id=run_id)
        return row

    def run_value(self, env: str, run_id: str, which: str) -> tuple[Iterator[bytes], int]:
        """A run's ``payload`` or ``output`` as JSON bytes in chunks, and its size: a blob
        is streamed from the blob store, never held whole."""
        text = self._run_row(env, run_id)["payload" if which == "payload" else "output"]
        return self.blobs.stream(text), self.blobs.size(text)

    def retrieve(self, env: str, run_id: str) -> dict[str, Any]:
        """A run, with ``waiting_for``: who it waits for when no live worker can take it."""
        with self.store.transaction(write=False) as tx:
            row = tx.one("get_run", id=run_id, environment=env)
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r} in environment {env!r}",
                                       run_id=run_id)
            now = self.clock.now()
            waiting = versions.waiting_for(tx, env, row, now)
            attempts = [attempt_record(a) for a in tx.all("list_attempts", run_id=run_id)]
            statuses = tx.all("list_events_without_kind", run_id=run_id, kind="metadata",
                              after=0, limit=MAX_STATUS_EVENTS)
        return run_record(row, waiting_for=waiting, now=now, attempts=attempts,
                          events=statuses)

    def list_runs(
        self,
        env: str,
        *,
        status: list[str] | None = None,
        task: str | None = None,
        tag: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        parent_id: str | None = None,
        root_id: str | None = None,
        idempotency_key: str | None = None,
        version: str | None = None,
        fingerprint: str | None = None,
        queue: str | None = None,
        search: str | None = None,
        sort: str | None = "created",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first by ``sort`` (created, started or finished); returns (runs, cursor
        for the next page or None).

        ``root_id`` finds every run below a root (the root itself has none); ``version``
        the runs pinned to that version (unpinned runs belong to none yet); ``fingerprint``
        the runs with a failed attempt in that error group (``failures.py``); ``search`` an
        id prefix, an idempotency-key prefix, a tag or payload text (``listing``).
        """
        from outlast.engine import listing  # the operator's: not loaded by a worker

        if not 1 <= limit <= 1000:
            raise ValidationError(f"limit must be between 1 and 1000, got {limit}")
        wanted = listing.RunFilter(
            statuses=tuple(status or ()), task=task, queue=queue, tag=tag, version=version,
            fingerprint=fingerprint,
            parent_id=parent_id, root_id=root_id, idempotency_key=idempotency_key,
            created_after=created_after, created_before=created_before,
            search=search or None, sort=sort or "created")
        with self.store.transaction(write=False) as tx:
            rows, next_cursor = listing.list_page(tx, env, wanted, limit, cursor)
        now = self.clock.now()
        return [run_record(r, now=now) for r in rows], next_cursor

    def events(self, run_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.all("list_events", run_id=run_id, after=after, limit=limit)
        return [event_record(r) for r in rows]

    def logs(self, run_id: str, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.all("list_logs", run_id=run_id, after=after, limit=limit)
        return [log_record(r) for r in rows]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        with self.store.transaction(write=False) as tx:
            rows = tx.all("list_attempts", run_id=run_id)
        return [attempt_record(r) for r in rows]

    def trace(self, env: str, run_id: str) -> trace.Trace:
        """The run as a tree of spans (``engine/trace.py``), from what the store holds."""
        from outlast.engine import trace  # the operator's: not loaded by a worker

        return trace.build(self.trace_records(env, run_id))

    def trace_records(self, env: str, run_id: str) -> TraceRecords:
        """What ``trace`` builds from, read once: the run page shows the same run,
        attempts and log lines beside the tree, and reading them twice cost it as much."""
        from outlast.engine import trace  # the operator's: not loaded by a worker

        run = self.retrieve(env, run_id)
        with self.store.transaction(write=False) as tx:
            entries = journal.entries(tx, run_id)
            moves = [event_record(r) for r in
                     tx.all("run_status_events", run_id=run_id, limit=trace.MAX_EVENTS)]
            waits = [trace.waitpoint_record(r) for r in
                     tx.all("run_waitpoints", run_id=run_id, limit=trace.MAX_WAITPOINTS)]
        children, _ = self.list_runs(env, parent_id=run_id, limit=trace.MAX_CHILDREN)
        return trace.Records(run, self.attempts(run_id), moves, entries, waits, children,
                            self.logs(run_id, limit=trace.MAX_LOGS))

    # -- operator actions ------------------------------------------------------------------

    def skip_wait(self, env: str, run_id: str) -> dict[str, Any]:
        """End a WAITING run's sleeps now: it resumes as if their time had come."""
        with self.store.transaction() as tx:
            waitpoints.skip_sleeps(tx, env, run_id, self.clock.now())
        return self.retrieve(env, run_id)

    def cancel(self, env: str, run_id: str) -> dict[str, Any]:
        """Cancel a run that is not final; an executing attempt is killed by its worker."""
        row = self._run_row(env, run_id)
        with self.store.transaction() as tx:
            canceled = RunStatus(row["status"]) not in FINAL \
                and self.cancel_in(tx, row["id"], self.clock.now())
        if not canceled:
            status = self._run_row(env, run_id)["status"]
            raise InvalidTransitionError(
                f"run {run_id} is already {status}; only unfinished runs can be canceled",
                run_id=run_id,
            )
        return self.retrieve(env, run_id)

    def cancel_in(self, tx: Tx, run_id: str, now: float) -> bool:
        """Cancel a run and its unfinished tree in the caller's transaction; False (and
        nothing written) when the run is final by the time its row is locked."""
        _lock_leaves_first(tx, run_id)
        row = tx.one("lock_run", id=run_id)
        if row is None or RunStatus(row["status"]) in FINAL:
            return False
        self._cancel_tree(tx, row, now)
        return True

    def _cancel_tree(self, tx: Any, row: Row, now: float) -> None:
        """Cancel a run and, depth first, every unfinished run it started."""
        for child in tx.all("active_children", id=row["id"]):
            child_row = tx.one("lock_run", id=child["id"])
            if child_row is not None and RunStatus(child_row["status"]) not in FINAL:
                self._cancel_tree(tx, child_row, now)
        transitions.end_inactive(tx, run_id=row["id"], transition="cancel", now=now,
                                 hook=self._hook_for(tx, row))
        if row.get("parent_id"):
            final = tx.one("lock_run", id=row["id"])
            if final is not None:
                waitpoints.on_run_final(tx, final, now)

    def reschedule(self, env: str, run_id: str, available_at: float) -> dict[str, Any]:
        with self.store.transaction() as tx:
            transitions.reschedule(tx, run_id=run_id, environment=env,
                                   available_at=available_at, now=self.clock.now())
        return self.retrieve(env, run_id)

    def _hook_for(self, tx: Tx, row: Row) -> str | None:
        try:
            definition = self.definition(row["environment"], row["task_id"], tx)
        except TaskNotFoundError:
            return None
        return attempts.failure_hook(definition)

    # -- versions --------------------------------------------------------------------------

    def list_versions(self, env: str) -> list[dict[str, Any]]:
        """Each version with its tasks, live workers, unfinished pinned runs, and whether
        its workers are safe to stop (``version_admin``)."""
        return self._versions.list(env)

    def get_version(self, env: str, version: str) -> dict[str, Any]:
        return self._versions.get(env, version)

    def promote(self, env: str, version: str) -> dict[str, Any]:
        """Make ``version`` current; the current one drains."""
        return self._versions.promote(env, version)

    def retire(self, env: str, version: str) -> dict[str, Any]:
        """Retire ``version``: refused while it is current or runs are pinned to it."""
        return self._versions.retire(env, version)

    def drained(self, env: str, version: str) -> bool:
        """Not current, and no unfinished run pinned to it: its workers may stop."""
        return self._versions.drained(env, version)

    # -- workers ---------------------------------------------------------------------------

    def claim(self, env: str, worker_id: str, queues: list[str] | None, capacity: int,
              code: WorkerCode | None = None) -> list[Row]:
        """Start up to ``capacity`` runs; with ``code``, only those that code can execute.
        Each row holds what a worker reads of its run (``dequeue.Claimed``)."""
        with self.store.transaction() as tx:
            tx.lazy_commit()
            rows = self._claim_in(tx, env, worker_id, queues, capacity, code).rows
        return self.blobs.runs(rows)

    def _claim_in(self, tx: Any, env: str, worker_id: str, queues: list[str] | None,
                  capacity: int, code: WorkerCode | None = None) -> dequeue.Claimed:
        return dequeue.claim(tx, self._claim_request(env, worker_id, queues, capacity, code),
                             self.clock.now())

    def _claim_request(self, env: str, worker_id: str, queues: list[str] | None,
                       capacity: int, code: WorkerCode | None) -> dequeue.ClaimRequest:
        return dequeue.ClaimRequest(env, worker_id, queues, capacity, new_id("lease"),
                                    self.lease_seconds, self.settings.env_concurrency_limit,
                                    code)

    def _claim_last(self, tx: Tx, request: dequeue.ClaimRequest) -> dequeue.Claimed | None:
        """The claim that ends a worker's pass; None: the counting path must decide, in a
        transaction of its own (``_claim_counted``).

        Where the one-statement claim writes all a start needs (``Tx.compound_writes``:
        PostgreSQL) it is the transaction's last statement, committed with it in the same
        round trip (``Tx.alone``): a pass that only claims is one round trip from the
        worker's wake-up to its runs, and one that also records saves its ``COMMIT``'s.
        Should it leave the choice to the counting path, that path has a transaction of
        its own (the first claimed nothing); elsewhere it follows in the same one.
        """
        alone = tx.compound_writes
        claimed = dequeue.claim_unlimited(tx, request, self.clock.now(), alone=alone)
        if claimed is None and not alone:
            return dequeue.claim_counted(tx, request, self.clock.now())
        return claimed

    def _claim_counted(self, request: dequeue.ClaimRequest) -> dequeue.Claimed:
        """The counting path after ``_claim_last`` committed without a claim: only claims,
        so it commits lazily (anything recorded before it is already flushed)."""
        with self.store.transaction() as tx:
            tx.lazy_commit()
            return dequeue.claim_counted(tx, request, self.clock.now())

    def record(self, outcomes: list[Outcome]) -> list[Decision | None]:
        """Write how attempts ended, all in one transaction; None marks a stale outcome."""
        if not outcomes:
            return []
        outcomes = self._kept(outcomes)
        with self.store.transaction() as tx:
            return self._record_in(tx, outcomes, self.clock.now())

    def _kept(self, outcomes: list[Outcome]) -> list[Outcome]:
        """Outcomes with large outputs written to the blob store (before the transaction
        that records them: the rows reference them when it commits); an output over the
        limit fails its attempt as the task raising ``PayloadTooLargeError`` would."""
        return [attempts.kept_output(o, self.blobs) for o in outcomes]

    def record_and_claim(
        self, outcomes: list[Outcome], env: str, worker_id: str, queues: list[str] | None,
        capacity: int, code: WorkerCode | None = None,
    ) -> tuple[list[Decision | None], dequeue.Claimed]:
        """A worker's pass: record what ended and claim what is next, in one transaction
        (on PostgreSQL a claim that a limit sends to the counting path takes a second one:
        the first ends with the one-statement claim, ``_claim_last``).

        The claim's ``retry_at`` tells the worker when a rate that held runs back has room.

        A pass that only claims commits lazily (``Tx.lazy_commit``): were the database to
        crash before flushing it, the runs would be QUEUED again and the claiming worker
        would learn at its next heartbeat that their leases are gone, as after a cancel.
        That takes a disk flush off the path from trigger to start. Results are always
        flushed before the commit returns.
        """
        outcomes = self._kept(outcomes)
        request = self._claim_request(env, worker_id, queues, capacity, code) \
            if capacity > 0 else None
        with self.store.transaction() as tx:
            if not outcomes:
                tx.lazy_commit()
            decisions = self._record_in(tx, outcomes, self.clock.now()) if outcomes else []
            claimed = self._claim_last(tx, request) if request is not None \
                else dequeue.Claimed([])
        if claimed is None:  # only a request is ever answered None
            assert request is not None
            claimed = self._claim_counted(request)
        self._with_journals(claimed)
        self.blobs.runs(claimed.rows)
        return decisions, claimed

    def _with_journals(self, claimed: dequeue.Claimed) -> None:
        """Give each claimed run its journal (``row["journal"]``): its first durable
        operation then starts without asking the worker for it, a round trip through the
        worker's loop (and a read transaction there) for every run that sleeps or waits.

        A run that had started gets it read after the claim committed, token entries with
        their callback URLs rebuilt, as ``DurableOps.journal`` gives them (none is stored):
        the claim's lease is the only one that may write to it now, so it reads the same
        as inside the claim's transaction, and the claim's statement can end its
        transaction (``_claim_last``). A run that never
        started has none: only an attempt holding the run's lease writes to its journal,
        and ``started_at`` is set by the claim that gave out that lease and is never
        cleared."""
        resumed = claimed.rows[:claimed.resumed]
        if resumed:
            # read before the transaction: the first read of the project's key opens its own
            token_key = self.durable.token_key()
            with self.store.transaction(write=False) as tx:
                journals = journal.entries_of(tx, [row["id"] for row in resumed])
                for row in resumed:
                    row["journal"] = self.durable.with_urls(tx, journals[row["id"]],
                                                            token_key)
        for row in claimed.rows[claimed.resumed:]:
            row["journal"] = []

    def _record_in(self, tx: Any, outcomes: list[Outcome], now: float) -> list[Decision | None]:
        batch = _batch_completions(outcomes)
        rest = [o for i, o in enumerate(outcomes) if i not in batch]
        rows = {r["id"]: r for r in tx.all("get_runs", ids=[o.run_id for o in rest])} if rest \
            else {}
        decided = {id(o): self._record_one(tx, o, rows.get(o.run_id), now) for o in rest}
        completed = [outcomes[i] for i in sorted(batch)]
        decided.update(zip(map(id, completed), attempts.record_completed(tx, completed, now),
                           strict=True))
        hook_reports.after_outcomes(tx, [o for o in outcomes if decided[id(o)] is not None], now)
        return [decided[id(o)] for o in outcomes]

    def _record_one(
        self, tx: Any, outcome: Outcome, row: Row | None, now: float
    ) -> Decision | None:
        if row is None:
            return None
        facts = RunFacts(row["max_attempts"], Retry.from_dict(loads(row["retry"])), row["machine"],
                         parent_id=row.get("parent_id"), version=row.get("version"),
                         environment=row["environment"], task_id=row["task_id"])
        definition = self._definition_or_none(tx, row)
        return attempts.record_one(tx, outcome, facts, definition, now)

    def _definition_or_none(self, tx: Tx, row: Row) -> TaskDefinition | None:
        try:
            return self.definition(row["environment"], row["task_id"], tx)
        except TaskNotFoundError:
            return None

    def heartbeat(self, worker_id: str, run_ids: list[str]) -> dict[str, str]:
        """Extend the leases of ``run_ids``; return {run_id: lease_id} of those still held."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.run("worker_heartbeat", id=worker_id, now=now)
            if not run_ids:
                return {}
            rows = tx.all("heartbeat_runs", worker_id=worker_id, ids=run_ids,
                          lease_expires_at=now + self.lease_seconds)
        return {r["id"]: r["lease_id"] for r in rows}

    def register_worker(self, env: str, worker_id: str, info: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.run("upsert_worker", id=worker_id, environment=env, now=self.clock.now(),
                   hostname=info["hostname"], pid=info["pid"], version=info["version"],
                   queues=dumps(info["queues"]), concurrency=info["concurrency"])

    def register_version(self, env: str, worker_id: str, version: str,
                         definitions: list[TaskDefinition], *,
                         source: str) -> versions.Registered:
        """A worker's version and its tasks, registered (``engine/versions.py`` says
        whether that makes it current), and recorded as the code the worker runs. Under
        ``outlast dev`` (source "dev") the runs pinned to an earlier reload follow it."""
        with self.store.transaction() as tx:
            return self._register_version_in(tx, env, worker_id, version, definitions, source)

    def _register_version_in(self, tx: Tx, env: str, worker_id: str, version: str,
                             definitions: list[TaskDefinition],
                             source: str) -> versions.Registered:
        registered = versions.register(tx, env, version, definitions, source=source,
                                       now=self.clock.now())
        if source == SOURCE_DEV:  # each reload is the newest code: its runs follow it
            versions.follow_reload(tx, env, version, self.clock.now())
        tx.run("set_worker_code_version", id=worker_id, code_version=version)
        return registered

    def set_worker_import_errors(self, worker_id: str,
                                 failures: dict[str, dict[str, str]] | None) -> None:
        """The task files the worker could not import (none: all of them imported)."""
        with self.store.transaction() as tx:
            tx.run("set_worker_import_errors", id=worker_id,
                   import_errors=dumps(failures) if failures else None)

    def register_worker_code(self, env: str, worker_id: str, version: str,
                             definitions: list[TaskDefinition], *, source: str,
                             import_errors: dict[str, dict[str, str]] | None = None,
                             ) -> versions.Registered:
        """What a worker's children loaded, in one transaction (a worker claims only once
        it is written, so its start waits for it): the task definitions
        (``register_tasks``, not ``complete`` when a task file failed to import), the task
        files that failed (``import_errors``; none: all of them imported) and the version
        (``register_version``)."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            self._register_tasks_in(tx, env, definitions, now, complete=not import_errors)
            tx.run("set_worker_import_errors", id=worker_id,
                   import_errors=dumps(import_errors) if import_errors else None)
            registered = self._register_version_in(tx, env, worker_id, version, definitions,
                                                   source)
        self._cache_definitions(env, definitions)
        return registered

    def import_failures(self, env: str) -> dict[str, dict[str, str]]:
        """The task files live workers of ``env`` could not import, by path."""
        with self.store.transaction(write=False) as tx:
            return self._import_failures(tx, env)

    def _import_failures(self, tx: Tx, env: str) -> dict[str, dict[str, str]]:
        failures: dict[str, dict[str, str]] = {}
        for worker in self._workers(tx, env):
            failures.update(loads(worker["import_errors"]) if worker["import_errors"] else {})
        return failures

    def stop_worker(self, worker_id: str) -> None:
        with self.store.transaction() as tx:
            tx.run("stop_worker", id=worker_id, now=self.clock.now())

    def list_workers(self, env: str, stale_after: float = versions.LIVE_AFTER) -> list[Row]:
        with self.store.transaction(write=False) as tx:
            return self._workers(tx, env, stale_after)

    def _workers(self, tx: Tx, env: str, stale_after: float = versions.LIVE_AFTER) -> list[Row]:
        return tx.all("list_workers", environment=env, since=self.clock.now() - stale_after)

    def append_logs(self, rows: list[dict[str, Any]]) -> None:
        """Write an attempt's log lines; each row carries its ``lease_id``, and lines whose
        lease no longer holds the run (a stale attempt's, after a recovery) are dropped."""
        with self.store.transaction() as tx:
            tx.many("insert_log", rows)

    def claim_hooks(self, env: str, queues: list[str] | None, limit: int,
                    tasks: list[str] | None = None) -> list[Row]:
        """Runs whose final-state hook is due; with ``tasks``, only runs of those tasks
        (a worker calls the hooks of the tasks its code has)."""
        with self.store.transaction() as tx:
            rows = tx.all("claim_hooks", environment=env, queues=queues, limit=limit,
                          lease_id=new_id("hook"), now=self.clock.now(), tasks=tasks)
        return self.blobs.runs(rows)

    def finish_hook(self, run_id: str, lease_id: str,
                    errors: list[dict[str, Any]] | None = None) -> None:
        """A hook job is done; ``errors``: its hooks that raised (``hook_error`` events)."""
        with self.store.transaction() as tx:
            if tx.run("finish_hook", id=run_id, lease_id=lease_id) and errors:
                hook_reports.append(tx, run_id, errors, self.clock.now())

    # -- upkeep ----------------------------------------------------------------------------

    def try_lead(self, name: str, holder: str, ttl: float) -> bool:
        """Take or keep the lease ``name``; True while this holder has it."""
        now = self.clock.now()
        with self.store.transaction() as tx:
            row = tx.one("acquire_leader", name=name, holder=holder, expires_at=now + ttl, now=now)
        return row is not None and row["holder"] == holder

    def release_lead(self, name: str, holder: str) -> None:
        with self.store.transaction() as tx:
            tx.run("release_leader", name=name, holder=holder)

    def sweep(self, *, recover: bool = True) -> sweeper.SweepReport:
        """One pass of upkeep; cheap when there is nothing to do.

        ``recover=False`` leaves lapsed leases alone (the upkeep holder's grace after a
        database outage: ``upkeep/leader.py``)."""
        report = sweeper.SweepReport()
        with self.store.transaction() as tx:
            # the time once the transaction has begun: on SQLite, beginning waits for the
            # database's one writer, and what fell due meanwhile is this pass's work too
            now = self.clock.now()
            report.enqueued = sweeper.enqueue_due(tx, now)
            report.expired = sweeper.expire_due(
                tx, now, lambda row: self._hook_for_expired(tx, row))
            lost = sweeper.lapsed(tx, now) if recover else []
            report.recovered = sum(
                self._record_one(tx, sweeper.lost_worker_outcome(
                    r, sweeper.lost_attempt_seconds(tx, r, self.lease_seconds)), r, now)
                is not None
                for r in lost
            )
            tx.run("release_stale_hooks", before=now - 10 * self.lease_seconds)
            # waits last, with the time read again: the runs they resume are queued by
            # the commit right after, not a few statements later, and a sleep that fell
            # due while the duties above ran is woken now rather than by the next pass
            report.woken = waitpoints.due(tx, self.clock.now())
        return report

    def _hook_for_expired(self, tx: Tx, row: Row) -> str | None:
        return self._hook_for(tx, {"environment": row["environment"],
                                   "task_id": row["task_id"]})

    # -- API keys --------------------------------------------------------------------------

    def create_api_key(self, env: str, prefix: str = "ol", scope: str = FULL) -> str:
        """A new secret key for ``env`` that may do what ``scope`` allows
        (``core/key_scopes.py``); only its hash is stored."""
        check_scope(scope)
        key = f"{prefix}_{env}_{new_secret()}"
        with self.store.transaction() as tx:
            tx.run("insert_api_key", id=new_id("key"), environment=env, key_hash=hash_key(key),
                   prefix=key[: len(prefix) + len(env) + 6], now=self.clock.now(), scope=scope)
        return key

    def authenticate(self, key: str) -> str | None:
        """The environment of ``key``, or None."""
        grant = self.find_key(key)
        return None if grant is None else grant.environment

    def find_key(self, key: str) -> KeyGrant | None:
        """The environment and scope of a live ``key``, or None. Lookup by hash, then a
        constant-time check."""
        digest = hash_key(key)
        with self.store.transaction(write=False) as tx:
            row = tx.one("find_api_key", key_hash=digest)
        if row is None or not hmac.compare_digest(row["key_hash"], digest):
            return None
        return KeyGrant(str(row["environment"]), str(row["scope"]))


def replay_request(row: Row, payload_json: str | None = None) -> NewRun:
    """A new run of ``row``'s task with its payload (or ``payload_json``), tags, metadata,
    queue, priority, concurrency key and machine, marked as replayed from it."""
    opts = TriggerOptions(
        tags=tuple(loads(row["tags"])), metadata=loads(row["metadata"]),
        queue=row["queue"], priority=row["priority"],
        concurrency_key=row["concurrency_key"], machine=row["machine"],
    )
    return NewRun(row["task_id"], payload_json or row["payload"], opts, replayed_from=row["id"])


def _lock_leaves_first(tx: Any, run_id: str) -> None:
    """Lock a run's unfinished tree, every child before its parent.

    Running runs write upwards, child row first (a completion resumes the parent, and
    ``metadata.parent`` updates it): a cancel walking down the tree locking as it goes
    would take the same two rows the other way round and deadlock with them.
    """
    tree, level = [run_id], [run_id]
    while level:
        level = [c["id"] for parent in level for c in tx.all("active_children", id=parent)]
        tree.extend(level)
    for node in reversed(tree):
        tx.one("lock_run", id=node)


def _batch_completions(outcomes: list[Outcome]) -> set[int]:
    """Indexes of the outcomes one batch statement can write (one per run at most)."""
    seen: set[str] = set()
    batch: set[int] = set()
    for i, o in enumerate(outcomes):
        if attempts.batchable(o) and o.run_id not in seen:
            batch.add(i)
        seen.add(o.run_id)
    return batch


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()



