"""The worker supervisor: claims runs, feeds warm children, heartbeats, records results.

A single-threaded loop waits on every child's pipe and process sentinel, the database
listener and a wake-up pipe, so there is no shared state between threads to guard.
Heartbeats are sent from here, never from a child, so task code cannot starve them.
Every result is written with the attempt's lease id: a late result from an attempt
whose lease was taken over (canceled, or recovered by the sweeper) is dropped.

Short runs are claimed ahead. Once recent attempts took less than ``PREFETCH_BELOW``
seconds, the supervisor keeps ``concurrency`` runs in ``buffer`` beyond what the children
hold, and a child whose current task is known to be short gets up to ``PIPE_MAX`` runs
(about ``PIPE_WINDOW`` seconds of work) queued in its pipe, sent as one message; each
starts the moment the one before ends, so children keep working while a database pass
is in flight. One transaction per pass records what ended and tops these up.
Claimed-ahead runs are EXECUTING under a lease like any other: heartbeated from here,
dropped when a heartbeat shows the lease gone (canceled; one already in a child's pipe
is killed as soon as it starts), handed back (``released``, the attempt number
given back) on shutdown or when no child drew from the buffer between two heartbeats.
Their attempt's ``started_at`` is the claim time, a few milliseconds early; the
``max_duration`` deadline starts when the child really starts the run. Long runs are
never claimed ahead, so they cannot wait behind each other while another worker idles.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, cast

from outlast import __version__
from outlast.engine import Engine, Outcome
from outlast.engine.attempts import OutcomeKind
from outlast.engine.definitions import TaskDefinition
from outlast.engine.events import CANCEL_CHANNEL, QUEUED_CHANNEL
from outlast.errors import ConfigError, OutlastError
from outlast.ids import new_id
from outlast.jsonutil import dumps
from outlast.machines import PRESETS
from outlast.sdk.transports import LocalTransport
from outlast.worker import runtime
from outlast.worker.messages import (
    ApiCall,
    Assignment,
    Finished,
    HookDone,
    HookJob,
    LogBatch,
    Ready,
    Reply,
    RuntimeCall,
)
from outlast.worker.pool import Child, crash_error

log = logging.getLogger("outlast.worker")

#: how often the sweeper-lease holder sweeps, and how often a worker asks for the lease
SWEEP_EVERY = 0.2
LEAD_EVERY = 1.0

#: claim ahead only while attempts take less than this on average (seconds)
PREFETCH_BELOW = 0.05
#: a child holds about this much known-short work in its pipe (seconds), at most PIPE_MAX runs
PIPE_WINDOW = 0.03
PIPE_MAX = 32
#: how often an idle SQLite worker looks at ``PRAGMA data_version`` (seconds)
SQLITE_WAKE_CHECK = 0.003


@dataclass
class Pending:
    """Writes waiting for the next flush (kept across database hiccups)."""

    outcomes: list[Outcome] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    hooks_done: list[tuple[str, str]] = field(default_factory=list)
    definitions: list[TaskDefinition] | None = None


class Supervisor:
    def __init__(
        self,
        engine: Engine,
        *,
        environment: str,
        task_dirs: list[str],
        root: Path,
        concurrency: int = 4,
        queues: list[str] | None = None,
        grace: float = 30.0,
        worker_id: str | None = None,
        sweep: bool = True,
        exit_on_import_error: bool = True,
        enforce_memory: bool = True,
        task_defaults: dict[str, Any] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        self.engine = engine
        self.environment = environment
        self.task_dirs = task_dirs
        self.root = root
        self.concurrency = concurrency
        self.queues = queues or None
        self.grace = grace
        self.worker_id = worker_id or new_id("worker")
        self.sweep_enabled = sweep
        self.exit_on_import_error = exit_on_import_error
        self.enforce_memory = enforce_memory
        self.task_defaults = task_defaults
        self.children: list[Child] = []
        self.pending = Pending()
        self.generation = 0
        self.registered_generation = -1
        self.import_error: str | None = None
        self._api = LocalTransport(engine, environment)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._stop_requested = False
        self._reload_requested = False
        self._stop_deadline: float | None = None
        self._more_work = True
        self.buffer: deque[dict[str, Any]] = deque()
        self._avg_run: float | None = None
        self._task_avg: dict[str, float] = {}
        self._fed = False
        self._revoked: set[str] = set()
        self._last_check = 0.0
        self._last_claim = 0.0
        self._last_heartbeat = 0.0
        self._last_sweep = 0.0
        self._last_lead = 0.0
        self._leading = False
        self._last_hooks = 0.0
        self._backoff_until = 0.0
        self._listener: Any = None
        self.heartbeat_interval = min(engine.lease_seconds / 3, 2.0)
        self.poll_interval = 1.0

    # -- control from other threads ------------------------------------------------------

    def request_stop(self) -> None:
        """Drain: claim nothing more, let running attempts finish within ``grace``."""
        self._stop_requested = True
        self._wake()

    def reload(self) -> None:
        """Replace every child so changed task modules are imported afresh."""
        self._reload_requested = True
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    # -- main loop -----------------------------------------------------------------------

    def run(self) -> None:
        """Block until stopped; children, leases and the worker row are cleaned up."""
        self._listener = self.engine.store.listen([QUEUED_CHANNEL, CANCEL_CHANNEL])
        self.engine.register_worker(self.environment, self.worker_id, {
            "hostname": socket.gethostname(), "pid": os.getpid(), "version": __version__,
            "queues": self.queues or ["*"], "concurrency": self.concurrency,
        })
        self._spawn_all()
        try:
            while not self._finished():
                self._tick()
        finally:
            self._shutdown()

    def _finished(self) -> bool:
        if not self._stop_requested:
            return False
        self._release_buffer()
        busy = [c for c in self.children if c.load()]
        if not busy:
            return True
        if self._stop_deadline is None:
            self._stop_deadline = time.monotonic() + self.grace
        if time.monotonic() >= self._stop_deadline:
            self._hand_back(busy)
            return True
        return False

    def _tick(self) -> None:
        ready = wait(self._waitables(), self._timeout())
        self._dispatch(ready)
        if self._reload_requested:
            self._do_reload()
        self._reap()
        self._enforce_deadlines()
        self._feed()
        if time.monotonic() < self._backoff_until:
            return
        try:
            self._database_work()
        except ConfigError:
            raise
        except Exception as exc:  # e.g. the database restarted: keep state, retry soon
            log.warning("worker database call failed (%s); retrying in 1 s", exc)
            self._backoff_until = time.monotonic() + 1.0

    def _database_work(self) -> None:
        if self._listener is None:  # lost with a database restart; failing here backs off
            self._listener = self.engine.store.listen([QUEUED_CHANNEL, CANCEL_CHANNEL])
        self._register_definitions()
        self._sync()
        self._maybe_heartbeat()
        self._maybe_sweep()
        self._feed()
        self._maybe_hooks()

    def _waitables(self) -> list[Any]:
        items: list[Any] = [self._wake_r]
        if self._listener is not None:  # None while the database is away
            items.append(self._listener)
        for c in self.children:
            items.append(c.conn)
            items.append(c.sentinel)
        return items

    def _timeout(self) -> float:
        now = time.monotonic()
        due = [c.deadline for c in self.children if c.deadline is not None]
        if self._stop_deadline is not None:
            due.append(self._stop_deadline)
        database = [self._last_heartbeat + self.heartbeat_interval]
        if self._wanted():
            database.append(self._last_claim + self.poll_interval)
            if self._more_work:
                database.append(now)
            elif hasattr(self._listener, "changed"):
                database.append(self._last_check + SQLITE_WAKE_CHECK)
        if self.pending.outcomes or self.pending.logs:
            database.append(now)
        if self._leading:
            database.append(self._last_sweep + SWEEP_EVERY)
        due.append(max(min(database), self._backoff_until))  # no busy loop while backing off
        return max(0.0, min(due) - now)

    # -- messages ------------------------------------------------------------------------

    def _dispatch(self, ready: list[Any]) -> None:
        by_conn = {id(c.conn): c for c in self.children}
        for obj in ready:
            if obj == self._wake_r:
                _drain_fd(self._wake_r)
            elif obj is self._listener:
                self._drain_listener()
            elif id(obj) in by_conn:
                self._read_child(by_conn[id(obj)])

    def _drain_listener(self) -> None:
        try:
            notes = self._listener.drain()
        except Exception as exc:  # e.g. the database restarted: listen again when it is back
            log.warning("worker lost its database listener (%s); listening again", exc)
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None
            self._more_work = True  # claims poll meanwhile; anything queued is found
            return
        self._on_notifications(notes)

    def _on_notifications(self, notes: list[tuple[str, str]]) -> None:
        for channel, payload in notes:
            if channel == QUEUED_CHANNEL:
                self._more_work = True
            elif channel == CANCEL_CHANNEL and payload in self._held_ids():
                self._last_heartbeat = 0.0  # check our leases now

    def _read_child(self, child: Child) -> None:
        while True:
            try:
                if not child.conn.poll():
                    return
                message = child.conn.recv()
            except (EOFError, OSError):
                return
            self._handle(child, message)

    def _handle(self, child: Child, message: Any) -> None:
        if isinstance(message, Finished):
            self._on_finished(child, message)
        elif isinstance(message, LogBatch):
            self.pending.logs.extend(_log_rows(message))
        elif isinstance(message, ApiCall):
            child.conn.send(self._answer(message))
        elif isinstance(message, RuntimeCall):
            child.conn.send(self._run_op(message))
        elif isinstance(message, HookDone):
            self.pending.hooks_done.append((message.run_id, message.lease_id))
            child.job, child.deadline = None, None
        elif isinstance(message, Ready):
            self._on_ready(child, message)

    def _on_finished(self, child: Child, message: Finished) -> None:
        job = child.job
        machine = job.run.get("machine") if isinstance(job, Assignment) else None
        self.pending.outcomes.append(_outcome(message, machine))
        self._avg_run = _ewma(self._avg_run, message.executed)
        if isinstance(job, Assignment):
            task = job.run["task_id"]
            self._task_avg[task] = _ewma(self._task_avg.get(task), message.executed)
        child.advance()
        if message.kind == "oom":
            child.retire = True  # a MemoryError may leave the process unusable
        head = child.job
        if isinstance(head, Assignment) and head.run["id"] in self._revoked:
            self._revoked.discard(head.run["id"])
            child.kill("cancel")  # it was canceled while it waited in the pipe

    def _answer(self, message: ApiCall) -> Reply:
        try:
            return Reply(message.request_id, True, self._api.send(message.call))
        except OutlastError as exc:
            return Reply(message.request_id, False, error=exc.to_dict(), status=exc.http_status)
        except Exception as exc:
            log.exception("a task's API call failed")
            return Reply(message.request_id, False, status=500,
                         error={"code": "internal_error", "message": str(exc)})

    def _run_op(self, message: RuntimeCall) -> Reply:
        """A durable operation of a running attempt; the reply unblocks the child."""
        try:
            self._flush()  # logs and results first, so the journal follows them in order
            data = runtime.dispatch(self.engine, self.environment, message.op, message.args)
            return Reply(message.request_id, True, data)
        except OutlastError as exc:
            return Reply(message.request_id, False, error=exc.to_dict(), status=exc.http_status)
        except Exception as exc:
            log.exception("durable operation %s failed", message.op)
            return Reply(message.request_id, False, status=500,
                         error={"code": "internal_error", "message": str(exc)})

    def _on_ready(self, child: Child, message: Ready) -> None:
        if message.error:
            self.import_error = message.error
            log.error("task modules failed to import:\n%s", message.error)
            child.retire = True
            return
        self.import_error = None
        child.ready = True
        if self.registered_generation < child.generation:
            self.pending.definitions = [TaskDefinition.from_dict(d) for d in message.definitions]
            self.registered_generation = child.generation

    def _register_definitions(self) -> None:
        definitions = self.pending.definitions
        if definitions is not None:
            self.engine.register_tasks(self.environment, definitions)
            self.pending.definitions = None
            log.info("registered %d task(s): %s", len(definitions),
                     ", ".join(d.id for d in definitions))

    # -- children ------------------------------------------------------------------------

    def _spawn_all(self) -> None:
        while len(self.children) < self.concurrency:
            self.children.append(Child(self.task_dirs, self.root, self.generation,
                                       self.task_defaults))

    def _do_reload(self) -> None:
        self._reload_requested = False
        self.generation += 1
        self.import_error = None
        for c in self.children:
            c.retire = True
        log.info("reloading task modules")

    def _reap(self) -> None:
        """Replace dead or retired children; a job that died with its child crashed."""
        for c in list(self.children):
            alive = c.process.is_alive()
            if alive and not (c.retire and c.job is None):
                continue
            if alive:
                c.stop()
            else:
                c.process.join(0)
                self._on_death(c)
                c.conn.close()
            self.children.remove(c)
        if self._stop_requested or (self.import_error and self.exit_on_import_error):
            if self.import_error and not self.children:
                raise ConfigError(f"task modules failed to import:\n{self.import_error}")
            return
        if self.import_error is None:
            self._spawn_all()

    def _on_death(self, child: Child) -> None:
        # read what the child sent before it died (it may have finished a run, then died
        # on the next one): otherwise a finished run would be taken for the dead one
        child.retire = True  # never feed it again while its last messages are read
        with contextlib.suppress(OSError):
            self._read_child(child)
        job = child.job
        self._release(list(child.queued), "the worker process died before it started")
        child.queued.clear()
        if job is None or isinstance(job, HookJob):
            return
        reason = child.killed_for
        if reason == "cancel":
            return  # the run is already final; nothing to write
        executed = time.monotonic() - child.started_at
        kind: OutcomeKind
        if reason == "timeout":
            limit = job.run.get("max_duration")
            error = {"type": "MaxDurationExceeded",
                     "message": f"the run exceeded its max_duration of {limit} s"}
            kind = "timed_out"
        else:
            error, kind = crash_error(child.process.exitcode), "crashed"
        self.pending.outcomes.append(Outcome(job.run["id"], job.lease_id, job.attempt, kind,
                                             executed, error=error))

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for c in self.children:
            if c.deadline is not None and now >= c.deadline and c.killed_for is None:
                c.kill("timeout")

    def _hand_back(self, busy: list[Child]) -> None:
        """Grace ran out: stop the attempts and put their runs back in the queue."""
        for c in busy:
            job = c.job
            c.kill("stop")
            self._release(list(c.queued), "handed back on shutdown")
            c.queued.clear()
            if isinstance(job, Assignment):
                self.pending.outcomes.append(Outcome(
                    job.run["id"], job.lease_id, job.attempt, "released",
                    time.monotonic() - c.started_at,
                    error={"type": "WorkerShutdown", "message": "handed back on shutdown"}))
            c.job = None

    # -- database work -------------------------------------------------------------------

    def _release(self, jobs: list[Assignment], why: str) -> None:
        """Claimed but never started: give the runs (and attempt numbers) back."""
        for job in jobs:
            self.pending.outcomes.append(Outcome(
                job.run["id"], job.lease_id, job.attempt, "released", 0.0,
                error={"type": "WorkerShutdown", "message": why}))

    def _release_buffer(self, why: str = "handed back on shutdown") -> None:
        jobs = [self._job(row) for row in self.buffer]
        self.buffer.clear()
        self._release(jobs, why)

    def _flush(self) -> None:
        if self.pending.logs:
            self.engine.append_logs(self.pending.logs)
            self.pending.logs = []
        if self.pending.outcomes:
            self.engine.record(self.pending.outcomes)
            self.pending.outcomes = []
            self._more_work = True
        for run_id, lease_id in self.pending.hooks_done:
            self.engine.finish_hook(run_id, lease_id)
        self.pending.hooks_done = []

    def _maybe_heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self.heartbeat_interval:
            return
        self._last_heartbeat = now
        if self.buffer and not self._fed:
            self._release_buffer("no free process to start it")
        self._fed = False
        held = self.engine.heartbeat(self.worker_id, sorted(self._held_ids()))
        lost = [r for r in self.buffer if held.get(r["id"]) != r["lease_id"]]
        for row in lost:
            log.info("run %s is no longer ours (canceled or recovered); dropping it", row["id"])
            self.buffer.remove(row)
        for c in self.children:
            if c.killed_for is None:
                self._check_leases(c, held)

    def _check_leases(self, child: Child, held: dict[str, str]) -> None:
        """Stop a child whose running attempt lost its lease; mark lost queued ones."""
        for job in child.held():
            if held.get(job.run["id"]) == job.lease_id:
                continue
            log.info("run %s is no longer ours (canceled or recovered); stopping it",
                     job.run["id"])
            if job is child.job:
                child.kill("cancel")
                return
            self._revoked.add(job.run["id"])

    def _held_ids(self) -> set[str]:
        ids = {r["id"] for r in self.buffer}
        for c in self.children:
            if c.killed_for is None:
                ids.update(job.run["id"] for job in c.held())
        return ids

    def _maybe_sweep(self) -> None:
        """Sweep often while this worker holds the sweeper lease (so durable sleeps wake
        on time without a server), and ask for the lease only once a second."""
        now = time.monotonic()
        if not self.sweep_enabled or now - self._last_sweep < SWEEP_EVERY:
            return
        self._last_sweep = now
        if now - self._last_lead >= LEAD_EVERY:
            self._last_lead = now
            self._leading = self.engine.try_lead("sweeper", self.worker_id, ttl=10.0)
        if self._leading:
            self.engine.sweep()

    def _prefetching(self) -> bool:
        avg = self._avg_run
        return avg is not None and avg < PREFETCH_BELOW

    def _depth(self, child: Child) -> int:
        """Runs to hold in a child: one, or more queued behind a task known to be short."""
        job = child.job
        return self._depth_for(job.run["task_id"]) if isinstance(job, Assignment) else 1

    def _depth_for(self, task_id: str) -> int:
        if not self._prefetching():
            return 1
        avg = self._task_avg.get(task_id)
        if avg is None or avg >= PREFETCH_BELOW:
            return 1
        return 1 + max(1, min(PIPE_MAX - 1, int(PIPE_WINDOW / max(avg, 1e-6))))

    def _wanted(self) -> int:
        """How many runs to claim now to fill every child and the buffer."""
        if self._stop_requested:
            return 0
        room = sum(self._depth(c) - c.load() for c in self.children
                   if c.can_take(self._depth(c)))
        ahead = self.concurrency if self._prefetching() else 0
        return max(0, room + ahead - len(self.buffer))

    def _should_claim(self, wanted: int) -> bool:
        if wanted == 0:
            return False
        now = time.monotonic()
        if self._listener is not None and hasattr(self._listener, "changed"):
            self._last_check = now
            self._more_work = self._listener.changed() or self._more_work
        return self._more_work or bool(self.pending.outcomes) or \
            now - self._last_claim >= self.poll_interval

    def _sync(self) -> None:
        """One transaction: record the outcomes that arrived and claim what is next."""
        if self.pending.logs:
            self.engine.append_logs(self.pending.logs)
            self.pending.logs = []
        wanted = self._wanted()
        claim = self._should_claim(wanted)
        outcomes = self.pending.outcomes
        if outcomes or claim:
            if claim:
                self._last_claim = time.monotonic()
            _, rows = self.engine.record_and_claim(
                outcomes, self.environment, self.worker_id, self.queues,
                wanted if claim else 0)
            self.pending.outcomes = []
            self.buffer.extend(rows)
            if claim:
                self._more_work = len(rows) == wanted
        for run_id, lease_id in self.pending.hooks_done:
            self.engine.finish_hook(run_id, lease_id)
        self.pending.hooks_done = []

    def _feed(self) -> None:
        """Hand buffered runs to children, least loaded first; one pipe message per child."""
        if not self.buffer:
            return
        room = {c: self._depth(c) for c in self.children if c.can_take(self._depth(c))}
        load = {c: c.load() for c in room}
        batches: dict[Child, list[dict[str, Any]]] = {}
        while self.buffer and room:
            child = min(room, key=load.__getitem__)
            row = self.buffer.popleft()
            batches.setdefault(child, []).append(row)
            load[child] += 1
            if load[child] == 1:  # an idle child's depth follows the run it starts with
                room[child] = self._depth_for(row["task_id"])
            if load[child] >= room[child]:
                del room[child]
        for child, rows in batches.items():
            if child.send_batch([self._job(row) for row in rows]):
                self._fed = True
            else:
                self.buffer.extendleft(reversed(rows))

    def _job(self, row: dict[str, Any]) -> Assignment:
        preset = PRESETS.get(row["machine"])
        memory = preset.memory_bytes if preset and self.enforce_memory else None
        return Assignment(run=_run_fields(row), lease_id=row["lease_id"],
                          attempt=row["attempt_count"], memory_limit=memory,
                          environment=self.environment)

    def _maybe_hooks(self) -> None:
        idle = [c for c in self.children if c.idle]
        now = time.monotonic()
        if not idle or self.buffer or self._stop_requested or now - self._last_hooks < 1.0:
            return
        self._last_hooks = now
        for child, row in zip(idle, self.engine.claim_hooks(self.environment, self.queues,
                                                            len(idle)), strict=False):
            child.assign(HookJob(_run_fields(row), row["hook_pending"], row["hook_lease"],
                                 self.environment), None)

    # -- shutdown ------------------------------------------------------------------------

    def _shutdown(self) -> None:
        for c in self.children:
            c.stop(timeout=1.0)
        self.children.clear()
        try:
            self._flush()
            self.engine.stop_worker(self.worker_id)
            self.engine.release_lead("sweeper", self.worker_id)
        except Exception as exc:
            log.warning("could not record the worker's shutdown: %s", exc)
        if self._listener is not None:
            self._listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


_RUN_FIELDS = ("id", "task_id", "payload", "attempt_count", "max_attempts", "tags", "metadata",
               "created_at", "queue", "machine", "replayed_from", "parent_id", "root_id",
               "idempotency_key", "max_duration", "execution_seconds", "status", "error",
               "environment")


def _run_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in _RUN_FIELDS}


def _outcome(m: Finished, machine: str | None) -> Outcome:
    return Outcome(m.run_id, m.lease_id, m.attempt, cast(OutcomeKind, m.kind),
                   m.executed, m.output, m.error, m.retry_override, m.hooks_done, machine)


def _ewma(average: float | None, sample: float) -> float:
    return sample if average is None else 0.8 * average + 0.2 * sample


def _log_rows(batch: LogBatch) -> list[dict[str, Any]]:
    return [{"run_id": batch.run_id, "attempt": batch.attempt, "at": r["at"],
             "level": r["level"], "message": r["message"],
             "attributes": dumps(r["attributes"], "log attributes")} for r in batch.records]


def _drain_fd(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
