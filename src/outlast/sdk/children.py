"""Child runs from inside a task: ``trigger`` (durable: a replay never triggers twice),
``trigger_and_wait`` and the batch forms. The parent waits without holding a worker;
a failed child never raises in the parent until ``unwrap()``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outlast.errors import TaskRunFailed
from outlast.sdk.calls import options_json
from outlast.sdk.durable import DurableRun, SuspendRun, active


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


def item(task_id: str, payload: Any, options: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"task": task_id, "payload": payload, "options": options_json(options)}


def trigger(items: list[dict[str, Any]], name: str) -> list[str]:
    """Trigger runs from inside a task, once per run whatever the replays."""
    run = active("trigger inside a task")

    def fresh(seq: int) -> Any:
        return run.op("trigger", seq, "trigger", name, items=items, wait=False,
                      batch=False)["result"]

    return list(run.call("trigger", name, fresh)["ids"])


def trigger_and_wait(items: list[dict[str, Any]], name: str, batch: bool) -> Any:
    run = active("trigger_and_wait")
    result = run.call("trigger_wait", name, lambda seq: _trigger_wait(run, seq, name, items,
                                                                      batch))
    if batch:
        return [TaskRunResult.from_dict(r) for r in result]
    return TaskRunResult.from_dict(result)


def _trigger_wait(run: DurableRun, seq: int, name: str, items: list[dict[str, Any]],
                  batch: bool) -> Any:
    answer = run.op("trigger", seq, "trigger_wait", name, items=items, wait=True, batch=batch)
    if answer.get("done"):
        return answer["result"]
    raise SuspendRun(f"waiting for child runs at #{seq}")
