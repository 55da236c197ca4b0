"""Run attempts of test tasks in this process against the ``engine`` fixture's store."""

from __future__ import annotations

from typing import Any

from outlast.core.durable_requests import DurableRequest
from outlast.engine import Engine
from outlast.engine.attempts import Outcome
from outlast.sdk.registry import Registry
from outlast.worker import runtime
from outlast.worker.executor import run_attempt
from outlast.worker.messages import Assignment, Finished


def register(engine: Engine, registry: Registry, env: str = "dev") -> None:
    engine.register_tasks(env, [t.definition() for t in registry.all()])


def execute_one(engine: Engine, registry: Registry, env: str = "dev",
                sent: list[Any] | None = None) -> Finished | None:
    """Claim one run and run one attempt of it, as a worker would; None if none is queued.
    Messages the attempt sends its supervisor (logs) go to ``sent`` when given."""
    rows = engine.claim(env, "test-worker", None, 1)
    if not rows:
        return None
    row = rows[0]
    job = Assignment(run=dict(row), lease_id=row["lease_id"], attempt=row["attempt_count"],
                     memory_limit=None, environment=env)

    def dispatch(request: DurableRequest) -> Any:
        return runtime.dispatch(engine, env, request)

    done = run_attempt(registry.get(row["task_id"]), job,
                       (lambda message: None) if sent is None else sent.append, dispatch)
    engine.record([Outcome(done.run_id, done.lease_id, done.attempt, done.kind,  # type: ignore[arg-type]
                           done.executed, done.output, done.error, done.retry_override,
                           done.hooks_done)])
    return done
