"""The worker supervisor: claims runs, feeds warm children, heartbeats, records results.

A single-threaded loop waits on every child's pipe and process sentinel, the database
listener and a wake-up pipe, so there is no shared state between threads to guard.
Heartbeats are sent from here, never from a child, so task code cannot starve them
(``heartbeats.py`` keeps the leases and says what a lost one means).
Every result is written with the attempt's lease id: a late result from an attempt
whose lease was taken over (canceled, or recovered by the sweeper) is dropped.

A child's durable write (a step's result, a sleep, a wait) is answered at the start of
the pass that follows its arrival: the journal follows the logs and results before it, so
the pass writes those first, in one transaction for every write that arrived, rather
than one of their own for each write.

Short runs are claimed ahead (``claim_ahead.py`` says how many and which child gets
which). Each pass's transaction tops the children up; what ended is written beside the
passes by the end writer (``end_writer.py``), or, on SQLite, in the pass's transaction.
Claimed-ahead runs are EXECUTING under a lease like any other: heartbeated from here,
dropped when a heartbeat shows the lease gone (canceled; one already in a child's pipe
is killed as soon as it starts), handed back (``released``, the attempt number
given back) on shutdown or when no child drew from the buffer between two heartbeats.
Their attempt's ``started_at`` is the claim time, a few milliseconds early; the
``max_duration`` deadline starts when the child really starts the run.

A claim that a rate limit held back says when the rate's window frees (``retry_at``); the
loop claims again then rather than on its poll (``rate_wakeups.py`` says when).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outlast import __version__
from outlast.core.definitions import TaskDefinition
from outlast.engine import Engine, Outcome
from outlast.engine.dequeue import Claimed
from outlast.engine.events import CANCEL_CHANNEL, QUEUED_CHANNEL
from outlast.errors import ConfigError, OutlastError, PlatformUnavailableError
from outlast.ids import new_id
from outlast.store.protocol import ANY_CHANNEL
from outlast.worker import DEFAULT_ASYNC_SLOTS, forkserver, lease_keeper, outcomes
from outlast.worker.child_calls import READS, ChildCalls
from outlast.worker.child_pipe import Waiter
from outlast.worker.claim_ahead import ClaimAhead, hook_fields
from outlast.worker.db_pass import PassAnswer, pass_work
from outlast.worker.db_turn import DatabaseTurn
from outlast.worker.drain import DrainWatch
from outlast.worker.end_writer import MAX_BEHIND, EndWriter
from outlast.worker.heartbeats import Heartbeats, held_ids
from outlast.worker.lease_clock import LeaseClock, margin
from outlast.worker.messages import (
    ApiCall,
    Assignment,
    Finished,
    HookDone,
    HookJob,
    LogBatch,
    Ready,
    Recorded,
    RuntimeCall,
)
from outlast.worker.metrics import WorkerMetrics
from outlast.worker.pool import STOP_GRACE, Child, FirstChildren
from outlast.worker.rate_wakeups import RateWakeups
from outlast.worker.records_ahead import RecordsAhead
from outlast.worker.registration import WorkerVersion
from outlast.worker.sweeping import SweeperTurn

log = logging.getLogger("outlast.worker")

#: failed loop passes in a row after which the worker gives up, and the first pause after
#: one (doubled after each further one: 0.1 s, 0.2 s, 0.4 s, 0.8 s)
LOOP_ERRORS = 5
#: seconds a thread of this process may hold the interpreter while another waits for it.
#: The supervisor shares its process with upkeep's threads; at Python's default (5 ms) a
#: busy upkeep pass (waking a batch of due sleeps) kept the supervisor waiting that long
#: after each database answer, and resumed runs started later
SWITCH_INTERVAL = 0.0005
LOOP_ERROR_PAUSE = 0.1
#: seconds a stopping worker waits for its end writer's last transaction
CLOSE_WAIT = 10.0


class WorkerFailed(OutlastError):
    """The supervisor's loop kept failing; the worker handed its runs back and stopped."""

    code = "worker_failed"


@dataclass
class Pending:
    """Writes waiting for the next flush (kept across database hiccups)."""

    outcomes: list[Outcome] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    hooks_done: list[HookDone] = field(default_factory=list)
    definitions: list[TaskDefinition] | None = None
    import_errors: dict[str, dict[str, str]] | None = None  # written with ``definitions``
    code_version: str | None = None  # the hash of the code that defined ``definitions``


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
        version: str | None = None,
        dev: bool = False,
        exit_when_drained: bool = False,
        metrics: WorkerMetrics | None = None,
        switch_interval: float | None = None,
        async_slots: int = DEFAULT_ASYNC_SLOTS,
    ) -> None:
        """``version``: the version to run as (else the hash of the loaded code); ``dev``:
        under ``outlast dev``, whose every reload is the newest code (it registers as such);
        ``metrics``: where to count what it does (``--metrics-port`` serves them);
        ``switch_interval``: the process's thread switch interval while it runs (see
        ``SWITCH_INTERVAL``), for a process of its own: it is process-wide, so a
        supervisor inside an app's process leaves the app's as it is; ``async_slots``: how
        many runs of async tasks one child runs at once (``shared_runs.py``; 1: each in a
        process of its own, as a sync task's)."""
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if async_slots < 1:
            raise ConfigError(f"async_slots must be at least 1, got {async_slots}")
        self.engine = engine
        self.environment = environment
        self.task_dirs = task_dirs
        self.root = root
        self.concurrency = concurrency
        self.queues = queues or None
        self.grace = grace
        self.worker_id = worker_id or new_id("worker")
        self.sweeper = SweeperTurn(engine, self.worker_id, sweep)
        self.exit_on_import_error = exit_on_import_error
        self.enforce_memory = enforce_memory
        self.task_defaults = task_defaults
        self.version = WorkerVersion(version, dev=dev)
        self.children: list[Child] = []
        self.pending = Pending()
        self.generation = 0
        self.registered_generation = -1
        self.import_error: str | None = None
        #: set once the tasks are registered: ``outlast dev`` is ready (``/readyz``)
        self.tasks_registered = False
        #: completed steps children told of without waiting, written before anything
        #: else is (``records_ahead.py``)
        self.recorded = RecordsAhead(engine)
        #: the pass, in flight while the loop reads children (``db_turn.py``), with the
        #: outcomes it records (SQLite) and how many runs it claims
        self.turn = DatabaseTurn(self._wake)
        #: writes what ended beside the passes, where the store takes two writers
        self.ends = None if engine.store.serial_writes else \
            EndWriter(lambda ends: self.engine.record(ends), self._wake)
        self.turn_outcomes: list[Outcome] = []
        self.turn_claim = 0
        self.calls = ChildCalls(engine, environment,
                                lambda: self._flush(self._answering_upto, wait=0.0),
                                self.recorded)
        #: durable writes that arrived, answered once what came before them is recorded
        #: (``_answer_writes``), and for each how many ends had arrived before it
        self.writes: list[tuple[Child, RuntimeCall]] = []
        self._write_marks: list[int] = []
        #: while writes are answered: the ends their flush waits for (None: every one)
        self._answering_upto: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self._stop_requested = False
        self._reload_requested = False
        self._stop_deadline: float | None = None
        self._more_work = True
        self._loop_errors = 0
        #: until when the leases are surely held, shared with the children
        self.leases = LeaseClock.create()
        self.ahead = ClaimAhead(concurrency, environment, enforce_memory,
                                async_slots=async_slots, wall=engine.clock.now,
                                lease_margin=margin(engine.lease_seconds))
        self.heartbeats = Heartbeats(engine, self.worker_id, self._release, self.leases)
        self._last_check = 0.0
        self._last_claim = 0.0
        self._last_hooks = 0.0
        self._backoff_until = 0.0
        self.rate_wakeups = RateWakeups(engine.clock)
        self._waiter = Waiter()
        self._listener: Any = None
        self.poll_interval = 1.0
        #: ``--exit-when-drained``: stop once no run needs this version (``drain.py``)
        self.drain = DrainWatch(engine, environment, self._drain_version) \
            if exit_when_drained else None
        #: what ``--metrics-port`` serves (``metrics.py``); kept whether served or not
        self.metrics = metrics or WorkerMetrics()
        self.switch_interval = switch_interval

    @property
    def heartbeat_interval(self) -> float:
        return self.heartbeats.interval

    @heartbeat_interval.setter
    def heartbeat_interval(self, seconds: float) -> None:
        self.heartbeats.interval = seconds

    # -- control from other threads ------------------------------------------------------

    def request_stop(self, now: bool = False) -> None:
        """Drain: claim nothing more, let running attempts finish within ``grace``;
        ``now`` (a second Ctrl-C): hand the running attempts' runs back at once."""
        self._stop_requested = True
        if now:
            self._stop_deadline = time.monotonic()
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
        if self.switch_interval is None:
            self._run()
            return
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, self.switch_interval))
        try:
            self._run()
        finally:
            sys.setswitchinterval(switch_interval)

    def _run(self) -> None:
        forkserver.warm()  # its imports overlap the database work below
        first = FirstChildren(self._new_child, self.concurrency)
        try:  # the children start (and import the task modules) meanwhile
            self._listener = self.engine.store.listen([QUEUED_CHANNEL, CANCEL_CHANNEL])
            self.engine.register_worker(self.environment, self.worker_id, {
                "hostname": socket.gethostname(), "pid": os.getpid(),
                "version": __version__, "queues": self.queues or ["*"],
                "concurrency": self.concurrency,
            })
        except BaseException:
            first.stop()
            self._close_handles()
            raise
        try:
            self.children.extend(first.started())  # a failed start raises here
            self._spawn_all()
            while not self._finished():
                self._guarded_tick()
        except Exception:
            self._abandon()  # what it held goes back to the queue before the error ends it
            raise
        finally:
            self._shutdown()

    def _finished(self) -> bool:
        if not self._stop_requested or self.turn.busy:  # what it claimed starts first
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

    def _guarded_tick(self) -> None:
        """One pass; an unexpected error is logged with its traceback and the pass retried.

        The parts that can break are rebuilt by the next pass (a dead child is reaped and
        replaced, a lost listener listens again); ``LOOP_ERRORS`` failed passes in a row
        mean the worker cannot go on: ``WorkerFailed`` ends ``run``, which hands back
        every run it holds first.
        """
        try:
            self._tick()
        except ConfigError:
            raise
        except Exception as exc:
            self._loop_errors += 1
            log.error("worker loop error (%d in a row)", self._loop_errors, exc_info=exc)
            if self._loop_errors >= LOOP_ERRORS:
                raise WorkerFailed(
                    f"the worker stopped after {self._loop_errors} errors in a row in its "
                    f"loop, the last: {exc!r}; its runs were handed back") from exc
            self._restart_listener()
            time.sleep(LOOP_ERROR_PAUSE * 2 ** (self._loop_errors - 1))
        else:
            self._loop_errors = 0

    def _restart_listener(self) -> None:
        """After an error nobody expected: listen afresh and look at everything again."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()
        self._more_work = True
        self.heartbeats.check_now()

    def _tick(self) -> None:
        try:
            self._tick_once()
        finally:
            busy = sum(1 for c in self.children if isinstance(c.job, Assignment) or c.shared)
            self.metrics.set_slots(busy, self.concurrency)
            self.metrics.settle()  # the ends this turn noted (``WorkerMetrics.ended``)

    def _tick_once(self) -> None:
        ready = self._waiter.wait(self._waitables(),
                                  [c.pipe for c in self.children if c.pipe.waiting],
                                  self._timeout())
        self._dispatch(ready)
        if self._reload_requested:
            self._do_reload()
        self._reap({r for r in ready if isinstance(r, int)})
        self._enforce_deadlines()
        self._feed()
        if self.turn.busy and not self.turn.finished():
            return  # the claim's transaction is in flight: no other database work meanwhile
        if time.monotonic() < self._backoff_until:
            self._answer_writes(at_once=True)  # each meets the fault and is told to ask again
            return
        try:
            self._database_work()
        except ConfigError:
            raise
        except Exception as exc:  # e.g. the database restarted: keep state, retry soon
            log.warning("worker database call failed (%s); retrying in 1 s", exc,
                        exc_info=None if database_error(exc) else exc)  # else: a bug
            self._backoff_until = time.monotonic() + 1.0
            self._answer_writes(at_once=True)

    def _database_work(self) -> None:
        self._end_turn()
        # what was just claimed is held by the children at once and written to their
        # pipes once the next transaction is in flight (``ClaimAhead.place``)
        placed = self.ahead.place(self.children)
        try:
            self._take_written()
            if self._listener is None:  # lost with a database restart; failing here backs off
                self._listener = self.engine.store.listen([QUEUED_CHANNEL, CANCEL_CHANNEL])
            self._register_definitions()
            self._answer_writes()
            self.heartbeats.maybe_beat(self.ahead, self.children)
            self._maybe_hooks()
            if self.drain is not None and self.drain.drained():
                self.request_stop()
            self._sync()  # its transaction is in flight while the loop reads children
            # after it: upkeep starts (and loads) once the first claim handed its runs out
            self.sweeper.maybe_sweep(claimed=self._last_claim > 0)
        finally:
            placed.send()

    def _drain_version(self) -> str | None:
        """The version to check for ``--exit-when-drained``: once it is registered with the
        tasks, and not while stopping anyway."""
        code = self.version.code
        return None if self._stop_requested or code is None else code.version

    def _waitables(self) -> list[Any]:
        items: list[Any] = [self._wake_r]
        if self._listener is not None:  # None while the database is away
            items.append(self._listener)
        for c in self.children:
            items.append(c.pipe)
            items.append(c.sentinel)
        return items

    def _timeout(self) -> float:
        now = time.monotonic()
        due = [at for c in self.children if (at := c.next_due()) is not None]
        if self._stop_deadline is not None:
            due.append(self._stop_deadline)
        # while a pass is in flight its end wakes the loop: nothing else is due meanwhile
        database = [now + 3600.0] if self.turn.busy else self._database_due(now)
        sweep_due = self.sweeper.next_due()
        if sweep_due is not None:
            database.append(sweep_due)
        if self.drain is not None:
            database.append(self.drain.next_due())
        due.append(max(min(database), self._backoff_until))  # no busy loop while backing off
        return max(0.0, min(due) - now)

    def _database_due(self, now: float) -> list[float]:
        """When the loop's database work is next due (none is while a pass is in flight:
        in a drain, most turns)."""
        database = [self.heartbeats.next_due()]
        if self._wanted():
            database.append(self._last_claim + self.poll_interval)
            rate_due = self.rate_wakeups.next_due()
            if rate_due is not None:
                database.append(rate_due)
            if self._more_work:
                database.append(now)
            elif self._listener is not None:  # commits its notes may have missed
                database.append(self._last_check + self._listener.recheck_every)
        if self.pending.outcomes or self.pending.logs or self.recorded.items or \
                self._writes_due():
            database.append(now)
        return database

    # -- messages ------------------------------------------------------------------------

    def _dispatch(self, ready: list[Any]) -> None:
        by_pipe = {id(c.pipe): c for c in self.children}
        for obj in ready:
            if obj == self._wake_r:
                _drain_fd(self._wake_r)
            elif obj is self._listener:
                self._drain_listener()
            elif id(obj) in by_pipe:
                self._read_child(by_pipe[id(obj)])

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
            elif channel == ANY_CHANNEL:  # some wake-ups were lost: claim and check leases
                self._more_work = True
                self.heartbeats.check_now()
            elif channel == CANCEL_CHANNEL and payload in self._held_ids():
                self.heartbeats.check_now()

    def _read_child(self, child: Child) -> None:
        try:
            messages = child.pipe.received()
        except (EOFError, OSError):
            return
        for message in messages:
            if isinstance(message, list):  # shared runs that ended together
                for item in message:
                    self._handle(child, item)
            else:
                self._handle(child, message)

    def _handle(self, child: Child, message: Any) -> None:
        if isinstance(message, Finished):
            self._on_finished(child, message)

        elif isinstance(message, Recorded):
            self.recorded.add(message.request)
            self.metrics.wrote(message.request)
        elif isinstance(message, LogBatch):
            self.pending.logs.extend(outcomes.log_rows(message))
        elif isinstance(message, ApiCall):
            child.send(self.calls.answer(message))  # a dead child is reaped as a crash
        elif isinstance(message, RuntimeCall) and isinstance(message.request, READS):
            child.send(self.calls.run_op(message))  # a read orders nothing: no need to wait
        elif isinstance(message, RuntimeCall):
            self.writes.append((child, message))
            self._write_marks.append(len(self.pending.outcomes) +
                                     (self.ends.handed if self.ends is not None else 0))
        elif isinstance(message, HookDone):
            self.pending.hooks_done.append(message)
            child.job, child.deadline = None, None
        elif isinstance(message, Ready):
            self._on_ready(child, message)

    def _on_finished(self, child: Child, message: Finished) -> None:
        if child.has_shared(message.run_id, message.lease_id):
            self._on_shared_finished(child, message)
            return
        job = child.job
        if isinstance(job, Assignment):
            run = job.run
            task_id = run["task_id"]
            self.pending.outcomes.append(outcomes.finished(message, run.get("machine")))
            self.metrics.ended(task_id, message.kind, message.executed)
        else:
            task_id = None
            self.pending.outcomes.append(outcomes.finished(message, None))
        self.ahead.observe(task_id, message.executed, time.monotonic() - child.started_at)
        child.advance()
        if message.kind == "oom":
            child.retire = True  # a MemoryError may leave the process unusable
        self.heartbeats.kill_if_revoked(child)

    def _on_shared_finished(self, child: Child, message: Finished) -> None:
        """A shared run ended; one stopped from here ends as it was stopped for."""
        ended = child.end_shared(message.run_id)
        if ended is None:
            return
        job, started, why = ended
        machine = job.run.get("machine")
        if why is None and message.kind != "stopped":
            outcome: Outcome | None = outcomes.finished(message, machine)
        else:  # canceled (nothing to write), out of time, or stopped for a reason gone
            outcome = outcomes.died(child, job, started, why or "unresponsive")
        if outcome is not None:
            self.pending.outcomes.append(outcome)
            self.metrics.ended(job.run["task_id"], outcome.kind, outcome.executed)
        self.ahead.observe(job.run["task_id"], message.executed, time.monotonic() - started)
        if message.kind == "oom":
            child.retire = True  # a MemoryError may leave the process unusable

    def _on_ready(self, child: Child, message: Ready) -> None:
        failed = message.import_errors
        error = message.error
        if failed and self.exit_on_import_error:  # `outlast worker`: a broken deploy stops
            error = "\n".join(f["traceback"] for f in failed.values())
        if error:
            self.import_error = error
            log.error("task modules failed to import:\n%s", error)
            child.retire = True
            return
        self.import_error = None
        child.ready = True
        self.ahead.async_tasks = frozenset(message.async_tasks)
        self.ahead.sync_tasks = len(message.async_tasks) < len(message.definitions)
        if self.registered_generation < child.generation:
            self.pending.definitions = [TaskDefinition.from_dict(d) for d in message.definitions]
            self.pending.import_errors = failed  # the other files' tasks run meanwhile
            self.pending.code_version = message.code_version
            self.registered_generation = child.generation
            for path, failure in sorted(failed.items()):
                log.error("%s failed to import; its tasks do not run until it is fixed:\n%s",
                          path, failure["traceback"])

    def _register_definitions(self) -> None:
        definitions = self.pending.definitions
        if definitions is not None:
            self.version.register(self.engine, self.environment, self.worker_id, definitions,
                                  self.pending.code_version, self.pending.import_errors)
            self.pending.definitions = None
            self.tasks_registered = True
            log.info("registered %d task(s): %s", len(definitions),
                     ", ".join(d.id for d in definitions))

    # -- children ------------------------------------------------------------------------

    def _spawn_all(self) -> None:
        while len(self.children) < self.concurrency:
            self.children.append(self._new_child())

    def _new_child(self) -> Child:
        return Child(self.task_dirs, self.root, self.generation, self.task_defaults,
                     self.engine.blobs.threshold, self.leases)

    def _do_reload(self) -> None:
        self._reload_requested = False
        self.generation += 1
        self.import_error = None
        for c in self.children:
            c.retire = True
        log.info("reloading task modules")

    def _reap(self, ended: set[int]) -> None:
        """Replace dead or retired children; a job that died with its child crashed.

        ``ended``: the descriptors the wait found ready; only a child whose sentinel is
        among them can have died (the sentinel stays ready until its exit is read, so a
        death a failed pass missed is seen by the next). Asking each child (``is_alive``:
        a poll set made, polled and closed) was a tenth of a sync drain's loop, which
        turns once per few ended runs."""
        for c in list(self.children):
            if not c.retire and c.sentinel not in ended:
                continue
            alive = c.process.is_alive()
            if alive and not (c.retire and c.job is None and not c.shared):
                continue
            if alive:
                c.stop()
            else:
                c.process.join(0)
                self._on_death(c)
                c.close()
            self.children.remove(c)
        if self._stop_requested or (self.import_error and self.exit_on_import_error):
            if self.import_error and not self.children:
                raise ConfigError(f"task modules failed to import:\n{self.import_error}")
            return
        if self.import_error is None and len(self.children) < self.concurrency:
            with lease_keeper.kept(self._held_heartbeat(), self.heartbeat_interval):
                self._spawn_all()  # seconds when the fork server must start anew

    def _held_heartbeat(self) -> Callable[[], object]:
        """A heartbeat of the attempts held now, for another thread to send while this
        loop waits: those of dead children whose outcomes are not yet written included."""
        ending = [*self.pending.outcomes, *self.turn_outcomes]
        ids = sorted(self._held_ids() | {o.run_id for o in ending})
        return lambda: self.heartbeats.beat(ids)

    def _on_death(self, child: Child) -> None:
        # read what the child sent before it died (it may have finished a run, then died
        # on the next one): otherwise a finished run would be taken for the dead one
        child.retire = True  # never feed it again while its last messages are read
        with contextlib.suppress(OSError):
            self._read_child(child)
        job = child.job
        self._release(list(child.queued), "the worker process died before it started")
        child.queued.clear()
        outcome = outcomes.died(child, job) if isinstance(job, Assignment) else None
        if outcome is not None and isinstance(job, Assignment):
            self.pending.outcomes.append(outcome)
            self.metrics.ended(job.run["task_id"], outcome.kind, outcome.executed)
        self._end_shared(child, lambda dead, shared, started, why: outcomes.died(
            dead, shared, started, why or "died"))  # every shared run died with it

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for c in self.children:
            if c.deadline is not None and now >= c.deadline and c.killed_for is None:
                c.kill("timeout")
            if not c.shared and not c.stopping:  # what follows is about shared runs
                continue
            for run_id in c.overdue_shared(now):
                c.stop_shared(run_id, "timeout", STOP_GRACE)
            if c.killed_for is None and any(now >= at for _, at in c.stopping.values()):
                log.warning("a run did not stop when cancelled; stopping its process")
                c.kill("unresponsive")  # its runs end as stopped, the others as crashed

    def _abandon(self) -> None:
        """The loop failed: hand back the buffer and every attempt (recorded on shutdown)."""
        try:
            self._release_buffer("handed back: the worker stopped on an error")
            self._hand_back([c for c in self.children if c.load()])
        except Exception:  # never hide the error that ended the loop
            log.exception("could not hand the worker's runs back")

    def _hand_back(self, busy: list[Child]) -> None:
        """Grace ran out: stop the attempts and put their runs back in the queue."""
        for c in busy:
            job = c.job
            c.kill("stop")
            self._release(list(c.queued), "handed back on shutdown")
            c.queued.clear()
            if isinstance(job, Assignment):
                stopped = outcomes.stopped(c, job)
                self.pending.outcomes.append(stopped)
                self.metrics.ended(job.run["task_id"], stopped.kind, stopped.executed)
            c.job = None
            self._end_shared(c, lambda child, shared, started, _: outcomes.stopped(
                child, shared, started))

    def _end_shared(self, child: Child,
                    outcome: Callable[[Child, Assignment, float, str | None],
                                      Outcome | None]) -> None:
        """Every shared run of ``child`` ended with it: record what ``outcome`` says of
        each (its job, when it started, why it was being stopped)."""
        for run_id in list(child.shared):
            ended = child.end_shared(run_id)
            written = outcome(child, *ended) if ended is not None else None
            if ended is not None and written is not None:
                self.pending.outcomes.append(written)
                self.metrics.ended(ended[0].run["task_id"], written.kind, written.executed)

    # -- database work -------------------------------------------------------------------

    def _release(self, jobs: list[Assignment], why: str) -> None:
        """Claimed but never started: give the runs (and attempt numbers) back."""
        self.pending.outcomes.extend(outcomes.released(jobs, why))
        for job in jobs:
            self.metrics.ended(job.run["task_id"], "released", None)

    def _release_buffer(self, why: str = "handed back on shutdown") -> None:
        self._release(self.ahead.take_all(), why)

    def _flush(self, upto: int | None = None, wait: float | None = None) -> None:
        """Write what waits: the records, the logs, the outcomes, the hooks done. On
        PostgreSQL the outcomes are handed to the end writer, and the flush waits up to
        ``wait`` seconds (None: as long as it takes) until the first ``upto`` ends handed
        in (None: every one) are written. A fault is raised (``PlatformUnavailableError``
        for ends not written in time); what was not written is kept for the next try."""
        self.recorded.write()  # first: a run's records are durable before its outcome
        if self.pending.logs:
            self.engine.append_logs(self.pending.logs)
            self.pending.logs = []
        if self.pending.outcomes:
            if self.ends is None:
                self.engine.record(self.pending.outcomes)
                self.recorded.ended(self.pending.outcomes)
            else:
                self._hand_in(self.pending.outcomes)
            self.pending.outcomes = []
            self._more_work = True
        if self.ends is not None:
            written = self.ends.wait_written(self.ends.handed if upto is None else upto,
                                             wait)
            self._take_written()  # the fault met, if one was
            if not written:
                raise PlatformUnavailableError("the worker's earlier results are not "
                                               "written yet")
        for done in self.pending.hooks_done:
            self.engine.finish_hook(done.run_id, done.lease_id, done.errors)
        self.pending.hooks_done = []

    def _answer_writes(self, at_once: bool = False) -> None:
        """Answer the durable writes that arrived before this pass, in arrival order.

        The logs and results that came before them are written first, in one
        transaction, so the flush each write asks for (``ChildCalls``) finds nothing left:
        one flush a pass, not one per write (a crowd of runs that each sleep or record
        steps made those flushes most of a worker's database work). The completed steps
        among the writes share one transaction too (``ChildCalls.run_records``): each
        child waits for one commit instead of one per child ahead of it. Their children
        wait no longer than they did: the claim comes after. When the database fails
        (``at_once``), each write meets the fault itself and its child is told to ask
        again.

        On PostgreSQL the results go to the end writer: a write is answered on the first
        pass after the ends that arrived before it are written, and the loop does not wait
        for them meanwhile (``end_writer.py``).
        """
        if self.ends is not None and self.writes and not at_once:
            try:  # what arrived before them, handed in (``_flush`` waits for none)
                self._flush(upto=0)
            except Exception:  # the end writer met a fault: each write meets it
                self._backoff_until = time.monotonic() + 1.0
                at_once = True
        count = len(self.writes) if at_once else self._writes_due()
        if not count:
            return
        waiting, self.writes = self.writes[:count], self.writes[count:]
        marks, self._write_marks = self._write_marks[:count], self._write_marks[count:]
        self._answering_upto = None if at_once else max(marks)
        try:
            self._answer(waiting)
        finally:
            self._answering_upto = None

    def _writes_due(self) -> int:
        """How many of the waiting writes (from the first) may be answered now: those
        whose earlier ends are written (all of them where the store writes ends in the
        pass)."""
        if self.ends is None or not self.writes:  # asked on every turn of the loop
            return len(self.writes)
        written = self.ends.written_count
        return next((i for i, mark in enumerate(self._write_marks) if mark > written),
                    len(self._write_marks))

    def _answer(self, waiting: list[tuple[Child, RuntimeCall]]) -> None:
        """Flush what came before ``waiting``, then answer each (the completed steps
        among them in one transaction). Each write's own flush (``ChildCalls``) waits
        for no end: those before it are written, or it meets the fault."""
        try:
            self._flush(self._answering_upto, wait=0.0)
        except Exception:  # kept for the pass; each write meets it
            self._answering_upto = None  # and its flush asks for every end
        records = [m for _, m in waiting if self.calls.batchable(m)]
        together = self.calls.run_records(records) or []
        answered = {id(m): reply for m, reply in zip(records, together, strict=False)}
        for child, message in waiting:
            self.metrics.wrote(message.request)
            reply = answered.get(id(message)) or self.calls.run_op(message)
            child.send(reply)  # a dead child is reaped as a crash

    def _held_ids(self) -> set[str]:
        return held_ids(self.ahead, self.children)

    def _wanted(self) -> int:
        """How many runs to claim now to fill every child and the buffer (none before the
        worker's version is registered: a claim must say which tasks it can run)."""
        if self._stop_requested or self.version.code is None:
            return 0
        if self.ends is not None and self.ends.behind > MAX_BEHIND:
            return 0  # ends pile up faster than they are written: let the writer catch up
        return self.ahead.wanted(self.children)

    def _should_claim(self, wanted: int) -> bool:
        if wanted == 0:
            return False
        now = time.monotonic()
        if self._listener is not None:
            self._last_check = now
            self._more_work = self._listener.changed() or self._more_work
        rate_due = self.rate_wakeups.due(now)
        return self._more_work or bool(self.pending.outcomes) or rate_due or \
            now - self._last_claim >= self.poll_interval

    def _sync(self) -> None:
        """Hand the outcomes that arrived to the end writer and start the transaction
        that claims what is next (``db_turn.py``; on SQLite it records the outcomes too);
        the records and logs that arrived before them are written first. Its answer is
        applied by ``_end_turn`` on a later pass, or at once when every child is idle
        (nothing to go on with meanwhile)."""
        self.recorded.write()
        if self.pending.logs:
            self.engine.append_logs(self.pending.logs)
            self.pending.logs = []
        for done in self.pending.hooks_done:
            self.engine.finish_hook(done.run_id, done.lease_id, done.errors)
        self.pending.hooks_done = []
        wanted = self._wanted()
        claim = self._should_claim(wanted)
        outcomes = self.pending.outcomes
        if not outcomes and not claim:
            return
        if claim:
            self._last_claim = time.monotonic()
        if self.ends is not None:  # written beside the passes (``end_writer.py``)
            self._hand_in(outcomes)
            self.pending.outcomes = outcomes = []
            if not claim:
                return
        self.pending.outcomes, self.turn_outcomes = [], outcomes
        self.turn_claim = wanted if claim else 0
        args = (outcomes, self.environment, self.worker_id, self.queues, self.turn_claim,
                self.version.code)
        work = pass_work(self.engine, args)
        if any(c.load() for c in self.children) or self.ahead.buffer:
            self.turn.start(work)
            return
        # nothing to read or hand out meanwhile: here, without two thread hops
        self.turn.run_here(work)
        self._end_turn()
        self._feed()

    def _end_turn(self, timeout: float | None = 0.0) -> None:
        """Apply the answer of the transaction ``_sync`` started, if it came (waiting up
        to ``timeout`` for it). When it failed, its outcomes are pending again and its
        error is raised: the loop backs off as for any database error."""
        if not self.turn.busy:
            return
        outcomes, wanted, self.turn_outcomes = self.turn_outcomes, self.turn_claim, []
        try:
            answer: PassAnswer = self.turn.result(timeout)
        except TimeoutError:
            self.turn_outcomes = outcomes
            raise
        except BaseException:
            self.pending.outcomes[:0] = outcomes
            raise
        if outcomes:
            self.recorded.ended(outcomes)
        self._claimed(answer.claimed, wanted)

    def _hand_in(self, outcomes: list[Outcome]) -> None:
        """Give ``outcomes`` to the end writer: their attempts have ended, so nothing
        more of theirs will be refused (``RecordsAhead.ended``)."""
        assert self.ends is not None
        self.ends.submit(outcomes)
        self.recorded.ended(outcomes)

    def _take_written(self) -> None:
        """Apply the end writer's news: ends written free their runs' places in limited
        queues (claim again at once: the claim in flight did not count them); a fault it
        met is raised, and the loop backs off (the writer tries those ends again)."""
        if self.ends is None:
            return
        done, errors = self.ends.written()
        if done:
            self._more_work = True
        if errors:
            raise errors[0]

    def _claimed(self, claimed: Claimed, wanted: int) -> None:
        """Apply a claim's answer."""
        if wanted:
            self.metrics.claims.observe(time.monotonic() - self._last_claim)
            self.metrics.claimed(claimed.rows, self.engine.clock.now())
            self._more_work = len(claimed.rows) == wanted
            self.rate_wakeups.after_claim(claimed, self._last_claim)
        self.ahead.add(claimed.rows, claimed.resumed)

    def _feed(self) -> None:
        self.ahead.feed(self.children)

    def _maybe_hooks(self) -> None:
        """Give idle children the hook jobs that are due, once a second at most, from the
        worker's first claim on: its first runs are not held up by a transaction for them."""
        idle = [c for c in self.children if c.idle]
        now = time.monotonic()
        if not idle or self.ahead.buffer or self._stop_requested or not self._last_claim \
                or now - self._last_hooks < 1.0:
            return
        self._last_hooks = now
        hooks = self.engine.claim_hooks(self.environment, self.queues, len(idle),
                                        self.version.tasks or [])
        for child, row in zip(idle, hooks, strict=False):
            child.assign(HookJob(hook_fields(row), row["hook_pending"], row["hook_lease"],
                                 self.environment), None)

    # -- shutdown ------------------------------------------------------------------------

    def _shutdown(self) -> None:
        for c in self.children:
            c.stop(timeout=1.0)
        self.children.clear()
        try:
            with contextlib.suppress(Exception):  # its outcomes are pending again
                self._end_turn(timeout=None)
            self._release_buffer()  # what the last claim brought
            if self.ends is not None:  # ends that met a fault: once more, now
                with contextlib.suppress(Exception):  # a fault already met, not waited for
                    self._take_written()
                self.ends.retry_now()
            self._flush()
            self.engine.stop_worker(self.worker_id)
            self.sweeper.release()
        except Exception as exc:
            log.warning("could not record the worker's shutdown: %s", exc)
        self._close_handles()

    def _close_handles(self) -> None:
        """The listener's connection and the loop's pipes: the supervisor is done."""
        if self.ends is not None:  # ``_shutdown`` flushed it, or the database is away
            self.ends.close(timeout=CLOSE_WAIT)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._waiter.close()
        if self.leases is not None:
            self.leases.close()


def database_error(exc: BaseException) -> bool:
    """The database (or the way to it) failed, as opposed to a bug on this side."""
    return isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith("psycopg")


def _drain_fd(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
