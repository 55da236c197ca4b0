"""Run tasks in your own test suite: in process, on a temporary SQLite database, with a
clock that jumps instead of waiting.

    from outlast.testing import TestRuns

    def test_order_flow():
        with TestRuns() as env:
            run = env.run(process_order, {"order_id": "42"})   # sleeps pass at once
            token = env.tokens(run.id)[0]
            env.complete_token(token["id"], {"approved": True})
            run = env.run_until_final(run.id)
            assert run.output["approved"] is True
            assert "suspend" in [e["kind"] for e in env.events(run.id)]

Runs execute in this process, one attempt at a time, through the same engine, journal
and replay as on a worker. When nothing is runnable, the clock moves to the next thing
that is due (a delayed run, a retry, a wait, a token timeout), so ``wait.sleep(days=3)``
takes milliseconds. Memory limits and ``max_duration`` are not enforced here.

``TestRuns.from_run(run_id)`` copies a recorded run (its payload and journal, read through
the client) into a fresh ``TestRuns``: ``env.run_until_final(run_id)`` replays what the
record holds (steps return their recorded results without running) and then goes on live,
in this process, under the fake clock, where a breakpoint in the task stops it.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from typing_extensions import Unpack

from outlast.clock import FakeClock
from outlast.core.durable_requests import DurableRequest
from outlast.core.options import parse_options
from outlast.core.params import TriggerParams
from outlast.core.records import JournalEntry, LogLine, RunEvent, Token
from outlast.core.settings import read_settings
from outlast.engine import Engine, NewRun, Outcome, events, journal
from outlast.engine.triggering import build_row
from outlast.jsonutil import dumps
from outlast.sdk.client import Client, configure, default_client
from outlast.sdk.handles import Run, RunHandle
from outlast.sdk.registry import Registry, default_registry
from outlast.sdk.task import Task
from outlast.sdk.transports import LocalTransport
from outlast.sdk.waits import wait
from outlast.store import open_store
from outlast.worker import runtime
from outlast.worker.executor import run_attempt, run_hook_job
from outlast.worker.messages import Assignment, Finished, HookJob, LogBatch
from outlast.worker.outcomes import log_rows

__all__ = ["TestRuns"]


class TestRuns:
    """A private Outlast for tests: a temporary database, a fake clock, in-process runs."""

    __test__ = False  # not a pytest test class

    def __init__(self, registry: Registry | None = None, *, environment: str = "test",
                 start: datetime | float | None = None,
                 database_url: str | None = None) -> None:
        """``database_url``: an empty database of your own (PostgreSQL too) instead of a
        temporary SQLite file; it is migrated, and left in place at the end."""
        self.registry = registry if registry is not None else default_registry
        self.environment = environment
        start_at = start.timestamp() if isinstance(start, datetime) else start
        self.clock = FakeClock(start_at)
        self._dir = Path(tempfile.mkdtemp(prefix="outlast-test-"))
        self.store = open_store(database_url or f"sqlite:///{self._dir / 'test.db'}")
        self.store.migrate()
        self.engine = Engine(self.store, clock=self.clock, lease_seconds=3600,
                             settings=read_settings())
        self.engine.register_tasks(environment, [t.definition() for t in self.registry.all()])
        self.client = Client(transport=LocalTransport(self.engine, environment, self.registry))
        self._worker_id = "test-worker"
        self._last_jump: float | None = None
        #: when a queue's rate limit that held runs back has room again (engine clock)
        self._rate_room_at: float | None = None
        #: run id → how many journal entries ``from_run`` copied from the record
        self.loaded: dict[str, int] = {}

    @classmethod
    def from_run(cls, run_id: str, *, client: Client | None = None,
                 registry: Registry | None = None, environment: str = "test") -> TestRuns:
        """A fresh TestRuns holding a copy of the recorded run ``run_id`` (same id).

        The run is read with ``client`` (default: the one configured from the environment,
        e.g. ``OUTLAST_API_URL``); its task must be in ``registry`` (default: the tasks
        imported). The clock starts when the run was created. Journal entries are copied up
        to the first wait still pending (it waits again here, under the fake clock); a
        token the record created but never finished waiting for is created again.
        """
        source = client if client is not None else default_client()
        run = source.runs.retrieve(run_id)
        entries = [e.to_json() for e in source.runs.journal(run_id)]
        env = cls(registry, environment=environment, start=run.raw.get("created_at"))
        try:
            env.load(run, entries)
        except BaseException:
            env.close()
            raise
        return env

    def load(self, run: Run, entries: list[dict[str, Any]]) -> None:
        """Insert a copy of a recorded run (with its id) and the replayable part of its
        journal (``replayable``), ready to be claimed."""
        now = self.clock.now()
        definition = self.engine.definition(self.environment, run.task)
        options = parse_options({"tags": run.tags, "metadata": run.metadata,
                                 "max_attempts": run.raw.get("max_attempts")}, now)
        row = build_row(self.environment, definition,
                        NewRun(run.task, dumps(run.payload), options), now)
        row["id"] = run.id
        kept = replayable(entries)
        with self.store.transaction() as tx:
            tx.run("insert_run", **row)
            events.append(tx, [events.event_row(run.id, "created", now, row["status"])])
            for e in kept:
                journal.record(tx, run.id, e["seq"], e["kind"], e["name"], now,
                               result=e["result"])
        self.loaded[run.id] = len(kept)

    # -- context ---------------------------------------------------------------------------

    def __enter__(self) -> TestRuns:
        configure(self.client)
        wait.pause = self.clock.advance  # type: ignore[assignment]
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        configure(None)
        if "pause" in wait.__dict__:
            del wait.pause
        self.store.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    # -- triggering and running ------------------------------------------------------------

    def trigger(self, task: Task[..., Any] | str, payload: Any = None,
                **options: Unpack[TriggerParams]) -> RunHandle:
        task_id = task if isinstance(task, str) else task.id
        return self.client.tasks.trigger(task_id, _plain(task, payload), **options)

    def run(self, task: Task[..., Any] | str, payload: Any = None,
            **options: Unpack[TriggerParams]) -> Run:
        """Trigger and run until this run is final or waits on something only you can do."""
        handle = self.trigger(task, payload, **options)
        self.run_until_idle()
        return self.retrieve(handle.id)

    def run_until_final(self, run_id: str, *, token_timeouts: bool = False) -> Run:
        self.run_until_idle(token_timeouts=token_timeouts)
        return self.retrieve(run_id)

    def run_until_idle(self, max_attempts: int = 10_000, *, token_timeouts: bool = False) -> int:
        """Execute every runnable attempt, jumping the clock to whatever is due next.

        Stops when only outside help can move things on: a run waiting on a token stays
        waiting (so the test can complete it) unless ``token_timeouts`` lets the clock
        jump to the token's timeout. Returns the number of attempts executed.
        """
        executed = 0
        while executed < max_attempts:
            self.engine.sweep()
            _, claimed = self.engine.record_and_claim([], self.environment, self._worker_id,
                                                      None, 1)
            self._rate_room_at = claimed.retry_at
            if claimed.rows:
                self._execute(claimed.rows[0])
                executed += 1
                continue
            if self._run_hooks():
                continue
            if not self._jump(token_timeouts):
                return executed
        raise RuntimeError(f"still busy after {max_attempts} attempts (an endless loop?)")

    def advance(self, delta: timedelta | float) -> None:
        """Move the clock forward and apply what became due (without running attempts)."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        self.clock.advance(seconds)
        self.engine.sweep()

    # -- reading ---------------------------------------------------------------------------

    def retrieve(self, run_id: str) -> Run:
        return self.client.runs.retrieve(run_id)

    def events(self, run_id: str) -> list[RunEvent]:
        return [RunEvent.from_json(e) for e in self.engine.events(run_id)]

    def logs(self, run_id: str) -> list[LogLine]:
        return [LogLine.from_json(line) for line in self.engine.logs(run_id)]

    def journal(self, run_id: str) -> list[JournalEntry]:
        return [JournalEntry.from_json(e) for e in self.engine.durable.run_journal(run_id)]

    def tokens(self, run_id: str | None = None, status: str | None = "PENDING") -> list[Token]:
        tokens, _ = self.engine.durable.list_tokens(self.environment, run_id=run_id,
                                                    status=status, limit=1000)
        return [Token.from_json(t) for t in tokens]

    def complete_token(self, token_id: str, output: Any = None) -> Token:
        return Token.from_json(
            self.engine.durable.complete_token(self.environment, token_id, output))

    # -- internals -------------------------------------------------------------------------

    def _execute(self, row: dict[str, Any]) -> None:
        task = self.registry.get(row["task_id"])
        job = Assignment(run=dict(row), lease_id=row["lease_id"], attempt=row["attempt_count"],
                         memory_limit=None, environment=self.environment)
        done = run_attempt(task, job, self._send, self._runtime)
        self.engine.record([_outcome(done)])

    def _run_hooks(self) -> bool:
        rows = self.engine.claim_hooks(self.environment, None, 10)
        for row in rows:
            task = self.registry.find(row["task_id"])
            job = HookJob(dict(row), row["hook_pending"], row["hook_lease"], self.environment)
            errors = run_hook_job(task, job, self._send) if task is not None else []
            self.engine.finish_hook(row["id"], row["hook_lease"], errors)
        return bool(rows)

    def _jump(self, token_timeouts: bool) -> bool:
        now = self.clock.now()
        with self.store.transaction(write=False) as tx:
            row = tx.one("next_due", environment=self.environment, now=now,
                         tokens=1 if token_timeouts else 0)
        due = row["at"] if row else None
        if self._rate_room_at is not None:  # runs a rate limit holds back start then
            due = self._rate_room_at if due is None else min(due, self._rate_room_at)
        if due is None or (due <= now and self._last_jump == now):
            return False  # nothing will become runnable by waiting
        self._last_jump = now
        if due > now:
            self.clock.set(due)
        return True

    def _send(self, message: Any) -> None:
        if isinstance(message, LogBatch):
            self.engine.append_logs(log_rows(message))

    def _runtime(self, request: DurableRequest) -> Any:
        return runtime.dispatch(self.engine, self.environment, request)


def replayable(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The part of a recorded journal a local copy of the run can replay: the entries in
    order up to the first one not done (a wait still pending runs again, locally), and
    none from a token whose wait is not among them (the token exists only where it was
    recorded, so a local run creates its own)."""
    kept: list[dict[str, Any]] = []
    for entry in sorted(entries, key=lambda e: int(e["seq"])):
        if entry["seq"] != len(kept) or entry["status"] != "ok":
            break
        kept.append(entry)
    waited = {e["name"] for e in kept if e["kind"] == "wait_token"}
    for index, entry in enumerate(kept):
        token = entry["result"] if entry["kind"] == "create_token" else None
        if isinstance(token, dict) and token.get("id") not in waited:
            return kept[:index]
    return kept


def _plain(task: Task[..., Any] | str, payload: Any) -> Any:
    return payload if isinstance(task, str) else task.payload_json_value(payload)


def _outcome(m: Finished) -> Outcome:
    return Outcome(m.run_id, m.lease_id, m.attempt, m.kind,  # type: ignore[arg-type]
                   m.executed, m.output, m.error, m.retry_override, m.hooks_done,
                   retry_at=m.retry_at, retry_machine=m.retry_machine,
                   hook_errors=m.hook_errors)
