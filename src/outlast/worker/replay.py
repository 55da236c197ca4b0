"""Replay a recorded run in this process without doing anything: the check before a deploy.

The same machine that resumes a run on a worker (``outlast.sdk.durable``) feeds a run's
recorded journal to the task function here, with one difference: nothing new may happen.
A recorded operation returns its recorded result (a step's body never runs; a wait, a
child or a token gives its recorded outcome), and the first operation the record does not
hold (or a wait still pending) ends the replay with ``ReplayEnd``: from there the run
would go on live, so it is fine. Metadata, tags and stream writes stay in the process;
logs and prints are captured and dropped.

Each replay ends in a ``Verdict`` (``outlast.worker.replay_verdicts``, the pure core):
``ok``, ``non_determinism`` (a worker with this code would stop the run there),
``task_missing`` or ``raised``. ``check_runs`` replays runs given in memory;
``check_environment`` reads the runs in flight of an environment from the database a page
at a time (``outlast deploy --check`` and CI pipelines call it).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from outlast.core.durable_requests import (
    AddTags,
    AppendStream,
    DurableRequest,
    UpdateMetadata,
    UpdateRelatedMetadata,
)
from outlast.engine.metadata import apply_ops
from outlast.engine.replay_reads import PAGE, Scope, runs_to_check, scope_of
from outlast.errors import ValidationError
from outlast.sdk import locals as locals_of
from outlast.sdk import streams
from outlast.sdk.context import RunContext
from outlast.sdk.durable import DurableRun, Entry, NonDeterminismError, current_run
from outlast.sdk.registry import Registry, default_registry
from outlast.sdk.task import Task
from outlast.store.protocol import Store
from outlast.worker.capture import LogBuffer, captured
from outlast.worker.executor import build_context
from outlast.worker.lifecycle import Lifecycle
from outlast.worker.replay_verdicts import Ending, ReplayEnd, Verdict, judge

__all__ = ["Ending", "RecordedRun", "ReplayEnd", "ReplayRun", "Verdict", "check_environment",
           "check_runs", "check_scope", "judge", "replay"]

@dataclass(frozen=True)
class RecordedRun:
    """A run as the database holds it (its ``runs`` row) and its journal entries."""

    row: dict[str, Any]
    journal: list[dict[str, Any]]

    @property
    def id(self) -> str:
        return str(self.row["id"])

    @property
    def task_id(self) -> str:
        return str(self.row["task_id"])


# -- the replay --------------------------------------------------------------------------


class ReplayRun(DurableRun):
    """A run's durable state that answers only from the record and never runs ``fresh``."""

    def __init__(self, recorded: RecordedRun, environment: str) -> None:
        row = recorded.row
        super().__init__(recorded.id, "replay", int(row.get("attempt_count") or 1),
                         environment, _Sink(row), journal=recorded.journal)
        #: the first mismatch, kept even if task code catches the error
        self.first_mismatch: dict[str, Any] | None = None

    @property
    def reached(self) -> int:
        return self._seq

    def call(self, kind: str, name: str, fresh: Callable[..., Any]) -> Any:
        seq, entry = self._replay_take(kind, name)
        try:
            return _recorded_only(seq, entry, kind, name)
        finally:
            self._busy.release()

    async def acall(self, kind: str, name: str,
                    fresh: Callable[..., Awaitable[Any]]) -> Any:
        return self.call(kind, name, fresh)

    def _replay_take(self, kind: str, name: str) -> tuple[int, Entry | None]:
        try:
            return self._take(kind, name)
        except NonDeterminismError as exc:
            if self.first_mismatch is None:
                self.first_mismatch = dict(exc.details)
            raise


def _recorded_only(seq: int, entry: Entry | None, kind: str, name: str) -> Any:
    if entry is None:
        raise ReplayEnd(f"#{seq}: {kind} {name!r} is past the record")
    if entry.status == "pending":
        raise ReplayEnd(f"#{seq}: still waiting")
    return entry.result


class _Sink:
    """Answers the run requests a replay may make (metadata, tags, streams) in memory."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.metadata: dict[str, Any] = json.loads(row.get("metadata") or "{}")
        self.tags: list[str] = json.loads(row.get("tags") or "[]")

    def __call__(self, request: DurableRequest) -> Any:
        if isinstance(request, UpdateMetadata):
            self.metadata = apply_ops(self.metadata, list(request.ops))
            return dict(self.metadata)
        if isinstance(request, UpdateRelatedMetadata):
            return {"run_id": request.run_id, "metadata": {}, "applied": True}
        if isinstance(request, AddTags):
            self.tags = sorted({*self.tags, *request.tags})
            return list(self.tags)
        if isinstance(request, AppendStream):
            return len(request.chunks)
        # anything else would change the database: the record ends here
        raise ReplayEnd(f"{request.op}: past the record")


def replay(task: Task[..., Any], recorded: RecordedRun, environment: str = "check") -> Ending:
    """Run ``task`` over ``recorded``'s journal in this process; how it ended."""
    run = ReplayRun(recorded, environment)
    ctx = build_context(recorded.row, run.attempt, environment)
    token, values = current_run.set(run), locals_of.bind(ctx.locals)
    try:
        with captured(LogBuffer(_dropped)):
            return _replay_in(task, recorded, run, ctx)
    finally:
        locals_of.unbind(values)
        current_run.reset(token)


def _replay_in(task: Task[..., Any], recorded: RecordedRun, run: ReplayRun,
               ctx: RunContext) -> Ending:
    """The task as a worker runs it, middleware and ``init`` to ``cleanup`` included
    (``worker.lifecycle``): task code may read what they set up. None of them may start
    a durable operation, so they cannot change where the replay goes; ``on_start`` may,
    and its operations count."""
    total = len(recorded.journal)
    try:
        payload = task.codec.from_json(json.loads(recorded.row["payload"]), task.id)
    except ValidationError as exc:
        return Ending(0, total, exc, payload_ok=False)
    if total == 0:  # nothing recorded to differ from (a run not started): no code runs
        return Ending(0, 0)
    try:
        Lifecycle(task, payload, ctx, run).run()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - every way a replay can end is judged
        return Ending(run.reached, total, exc, run.first_mismatch)
    finally:
        streams.finish(run)  # its buffered chunks go to the sink, and its timer stops
    return Ending(run.reached, total, None, run.first_mismatch)


def _dropped(records: list[dict[str, Any]]) -> None:
    """Logs of a replay go nowhere: the run's logs are the recorded ones."""


# -- checking many runs ------------------------------------------------------------------


def check_runs(registry: Registry, runs: Iterable[RecordedRun],
               environment: str = "check") -> list[Verdict]:
    """Replay each run with the tasks of ``registry``; one verdict per run, in order."""
    verdicts: list[Verdict] = []
    for recorded in runs:
        task = registry.find(recorded.task_id)
        ending = None if task is None else replay(task, recorded, environment)
        verdicts.append(judge(recorded.id, recorded.task_id, ending))
    return verdicts


def check_environment(store: Store, environment: str, *, version: str | None = None,
                      registry: Registry | None = None, page: int = PAGE) -> list[Verdict]:
    """Replay the runs in flight of ``environment`` against the tasks of ``registry``
    (default: the ones imported); a verdict per run.

    Which runs: those pinned to ``version`` when given; else those of the current version
    and those not pinned yet; in an environment with no current version, all of them
    (``outlast.engine.replay_reads.scope_of``). For CI pipelines:
    ``any(v.breaks for v in check_environment(...))`` fails the build.
    """
    return check_scope(store, environment, scope_of(store, environment, version),
                       registry=registry, page=page)


def check_scope(store: Store, environment: str, scope: Scope, *,
                registry: Registry | None = None, page: int = PAGE) -> list[Verdict]:
    """``check_environment`` for the runs of an explicit ``scope``."""
    tasks = registry if registry is not None else default_registry
    verdicts: list[Verdict] = []
    for rows in runs_to_check(store, environment, scope, page=page):
        verdicts += check_runs(tasks, [RecordedRun(row, entries) for row, entries in rows],
                               environment)
    return verdicts
