"""Child runs from inside a task: ``trigger`` (durable: a replay never triggers twice),
``trigger_and_wait`` and the batch forms. The parent waits without holding a worker;
a failed child never raises in the parent until ``unwrap()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outlast.core.durable_requests import ChildRun, Op, Trigger
from outlast.errors import TaskRunFailed
from outlast.observability import current_traceparent
from outlast.sdk.calls import options_json
from outlast.sdk.durable import DurableRun, active, resolved


@dataclass(frozen=True)
class TaskRunResult:
    id: str
    ok: bool
    status: str | None
    output: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskRunResult:
        return cls(id=data["id"], ok=bool(data["ok"]), status=data.get("status"),
                   output=data.get("output"), error=data.get("error"))

    def unwrap(self) -> Any:
        """The child's output, or ``TaskRunFailed`` if it did not complete."""
        if not self.ok:
            raise TaskRunFailed(self.id, self.status or "FAILED", self.error)
        return self.output


def item(task_id: str, payload: Any, options: Mapping[str, Any] | None) -> ChildRun:
    return ChildRun(task_id, payload, options_json(options))


def trigger(items: list[ChildRun], name: str) -> list[str]:
    """Trigger runs from inside a task, once per run whatever the replays."""
    run = active("trigger inside a task")

    def fresh(at: Op) -> Any:  # runs inside the operation's span: the children's parent
        return run.ask(Trigger(at, items, wait=False, batch=False,
                               traceparent=current_traceparent()))["result"]

    return list(run.call("trigger", name, fresh)["ids"])


async def atrigger(items: list[ChildRun], name: str) -> list[str]:
    """``trigger`` for asyncio code: the answer is awaited (``DurableRun.aask``)."""
    run = active("trigger inside a task")

    async def fresh(at: Op) -> Any:
        return (await run.aask(Trigger(at, items, wait=False, batch=False,
                                       traceparent=current_traceparent())))["result"]

    return list((await run.acall("trigger", name, fresh))["ids"])


async def atrigger_and_wait(items: list[ChildRun], name: str, batch: bool) -> Any:
    """``trigger_and_wait`` for asyncio code."""
    run = active("trigger_and_wait")

    async def fresh(at: Op) -> Any:
        answer = await run.aask(_waiting_trigger(at, items, batch))
        return resolved(answer, f"waiting for child runs at #{at.seq}")

    return _results(await run.acall("trigger_wait", name, fresh), batch)


def _results(result: Any, batch: bool) -> Any:
    if batch:
        return [TaskRunResult.from_dict(r) for r in result]
    return TaskRunResult.from_dict(result)


def trigger_and_wait(items: list[ChildRun], name: str, batch: bool) -> Any:
    run = active("trigger_and_wait")
    result = run.call("trigger_wait", name, lambda at: _trigger_wait(run, at, items, batch))
    return _results(result, batch)


def _trigger_wait(run: DurableRun, at: Op, items: list[ChildRun], batch: bool) -> Any:
    answer = run.ask(_waiting_trigger(at, items, batch))
    return resolved(answer, f"waiting for child runs at #{at.seq}")


def _waiting_trigger(at: Op, items: list[ChildRun], batch: bool) -> Trigger:
    """The request that triggers ``items`` and waits for them (in the operation's span:
    the children's parent)."""
    return Trigger(at, items, wait=True, batch=batch, traceparent=current_traceparent())
