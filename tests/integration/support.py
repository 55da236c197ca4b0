"""Small helpers shared by the integration tests."""

from __future__ import annotations

from typing import Any

from outlast.engine import Engine, Outcome
from outlast.store.protocol import Row


def status_of(engine: Engine, run_id: str, env: str = "dev") -> str:
    return str(engine.retrieve(env, run_id)["status"])


def count_runs(engine: Engine, env: str = "dev") -> int:
    total, cursor = 0, None
    while True:
        runs, cursor = engine.list_runs(env, limit=1000, cursor=cursor)
        total += len(runs)
        if cursor is None:
            return total


def outcome(row: Row, kind: str = "completed", **fields: Any) -> Outcome:
    """The outcome of the attempt that ``row`` (a claimed run) started."""
    return Outcome(run_id=row["id"], lease_id=row["lease_id"], attempt=row["attempt_count"],
                   kind=kind, **fields)  # type: ignore[arg-type]


def event_kinds(engine: Engine, run_id: str) -> list[str]:
    return [e["kind"] for e in engine.events(run_id)]
