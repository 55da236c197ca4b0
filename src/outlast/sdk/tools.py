"""``outlast.tools``: tasks as the tools of an LLM agent.

    toolset = tools.Toolset(get_weather, search_docs)
    response = client.messages.create(..., tools=toolset.definitions("anthropic"))
    results = toolset.call(response.content)           # one run per tool call
    messages.append({"role": "user", "content": [r.message for r in results]})

Inside a run, ``call`` runs the model's tool calls as child runs with one durable
``trigger_and_wait`` (a batch when the model asked for several at once): the agent waits
without holding a worker, and a replay of the agent reads the results from its journal
instead of calling the tools again. From plain code it triggers the runs and waits for
them (``call_async`` from asyncio code).

A bad call never raises: an unknown tool, arguments that are not JSON or do not fit the
schema, a run that failed or did not finish in time all come back as a ``ToolResult``
with ``ok=False`` and an error the model can read and act on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from typing_extensions import Unpack

from outlast.core.params import TaskBatchItem, TriggerParams
from outlast.errors import ConfigError, ValidationError
from outlast.sdk import children, tool_calls
from outlast.sdk.children import TaskRunResult
from outlast.sdk.client import default_async_client, default_client
from outlast.sdk.durable import current_run
from outlast.sdk.handles import Run
from outlast.sdk.task import Task
from outlast.sdk.tool_calls import ToolCall, ToolResult
from outlast.sdk.tool_specs import FORMATS, NAME, ToolFormat, ToolSpec, tool_name

__all__ = ["FORMATS", "NAME", "ToolCall", "ToolFormat", "ToolResult", "Toolset",
           "tool_name"]

#: the longest journal name of a turn's tool calls (the rest is cut)
MAX_JOURNAL_NAME = 200


@dataclass(frozen=True)
class _Accepted:
    """A call whose tool exists and whose arguments fit: the run it becomes."""

    index: int
    call: ToolCall
    spec: ToolSpec
    payload: Any


class Toolset:
    """Several tasks offered to a model as tools, and the dispatch of its calls.

    ``names``: a tool name for a task id (``{"billing.refund": "refund"}``), when the
    name derived from the id (see ``tool_name``) is not the one wanted or collides with
    another. ``timeout``: how long, from plain code, ``call`` waits for the runs. Other
    keywords are trigger options for every tool run (``tags``, ``queue``...).
    """

    def __init__(self, *tasks: Task[..., Any], names: Mapping[str, str] | None = None,
                 timeout: float = 600.0, **options: Unpack[TriggerParams]) -> None:
        self.timeout = timeout
        self.options: TriggerParams = options
        self._specs: dict[str, ToolSpec] = {}
        for task in tasks:
            spec = ToolSpec.of(task, (names or {}).get(task.id))
            if spec.name in self._specs:
                raise ConfigError(
                    f"tasks {self._specs[spec.name].task.id!r} and {task.id!r} would both be "
                    f"the tool {spec.name!r}: give one a name with names={{...}}")
            self._specs[spec.name] = spec

    @property
    def names(self) -> dict[str, str]:
        """Tool name → task id: how a model's call finds its task."""
        return {name: spec.task.id for name, spec in self._specs.items()}

    def task(self, name: str) -> Task[..., Any]:
        """The task behind the tool ``name`` (KeyError if none)."""
        return self._specs[name].task

    def definitions(self, format: str = "openai") -> list[dict[str, Any]]:
        """The tools as ``format``'s API takes them: ``"openai"`` (Chat Completions),
        ``"openai-responses"`` or ``"anthropic"``."""
        return [spec.definition(format) for spec in self._specs.values()]

    # -- calling ---------------------------------------------------------------------------

    def call(self, calls: Iterable[Any]) -> list[ToolResult]:
        """Run a model turn's tool calls; one result per call, in order.

        ``calls``: OpenAI ``message.tool_calls``, Responses ``response.output`` or
        Anthropic ``response.content`` (parts that are not tool calls are passed over).
        """
        count, accepted, results = self._check(calls)
        if accepted and current_run.get() is not None:
            results.update(self._in_run(accepted))
        elif accepted:
            results.update(self._from_code(accepted))
        return [results[i] for i in range(count)]

    async def call_async(self, calls: Iterable[Any]) -> list[ToolResult]:
        """``call`` for asyncio code (inside a run it is the same durable call)."""
        count, accepted, results = self._check(calls)
        if accepted and current_run.get() is not None:
            results.update(self._in_run(accepted))
        elif accepted:
            results.update(await self._from_code_async(accepted))
        return [results[i] for i in range(count)]

    def call_one(self, call: Any) -> ToolResult:
        """Run one tool call (a single ``tool_calls`` item or ``tool_use`` block)."""
        [result] = self.call([call])
        return result

    async def call_one_async(self, call: Any) -> ToolResult:
        [result] = await self.call_async([call])
        return result

    # -- internals -------------------------------------------------------------------------

    def _check(self, calls: Iterable[Any]) -> tuple[int, list[_Accepted], dict[int, ToolResult]]:
        """How many calls, those that can run, and the refusals of those that cannot."""
        parsed = [c for c in (tool_calls.parse(item) for item in calls) if c is not None]
        accepted: list[_Accepted] = []
        refused: dict[int, ToolResult] = {}
        for index, call in enumerate(parsed):
            try:
                accepted.append(self._accept(index, call))
            except ValidationError as exc:
                refused[index] = ToolResult(call, ok=False, error=exc.message)
        return len(parsed), accepted, refused

    def _accept(self, index: int, call: ToolCall) -> _Accepted:
        spec = self._specs.get(call.name)
        if spec is None:
            raise ValidationError(f"unknown tool {call.name!r}; the tools are: "
                                  f"{', '.join(self._specs) or 'none'}")
        if call.problem is not None:
            raise ValidationError(f"{call.problem}; send the arguments of {call.name} as a "
                                  "JSON object")
        return _Accepted(index, call, spec, spec.payload(call.arguments))

    def _item(self, entry: _Accepted) -> TaskBatchItem:
        return {"task": entry.spec.task.id, "payload": entry.payload, "options": self.options}

    def _in_run(self, accepted: list[_Accepted]) -> dict[int, ToolResult]:
        """One durable batch of child runs: a replay reads it from the journal."""
        items = [children.item(e.spec.task.id, e.payload, self.options) for e in accepted]
        ran: list[TaskRunResult] = children.trigger_and_wait(items, journal_name(accepted),
                                                             batch=True)
        return {e.index: _ended(e, r.id, r.ok, r.status, r.output, r.error)
                for e, r in zip(accepted, ran, strict=True)}

    def _from_code(self, accepted: list[_Accepted]) -> dict[int, ToolResult]:
        client = default_client()
        handles = client.batch.trigger([self._item(e) for e in accepted])
        deadline = time.monotonic() + self.timeout
        results = {}
        for entry, handle in zip(accepted, handles, strict=True):
            try:
                run = client.runs.poll(handle.id, timeout=_left(deadline))
            except TimeoutError:
                results[entry.index] = self._late(entry, handle.id)
                continue
            results[entry.index] = _from_run(entry, run)
        return results

    async def _from_code_async(self, accepted: list[_Accepted]) -> dict[int, ToolResult]:
        client = default_async_client()
        handles = await client.batch.trigger([self._item(e) for e in accepted])
        deadline = time.monotonic() + self.timeout
        results = {}
        for entry, handle in zip(accepted, handles, strict=True):
            try:
                run = await client.runs.poll(handle.id, timeout=_left(deadline))
            except TimeoutError:
                results[entry.index] = self._late(entry, handle.id)
                continue
            results[entry.index] = _from_run(entry, run)
        return results

    def _late(self, entry: _Accepted, run_id: str) -> ToolResult:
        return ToolResult(entry.call, False, run_id=run_id,
                          error=f"{entry.spec.name} did not finish within {self.timeout:g}s")


def journal_name(accepted: list[_Accepted]) -> str:
    """``tools: a, b``: a replay that meets other tools here (the model's reply was not
    recorded by a step) stops with NonDeterminismError instead of reading their results."""
    name = "tools: " + ", ".join(e.spec.name for e in accepted)
    return name if len(name) <= MAX_JOURNAL_NAME else name[:MAX_JOURNAL_NAME - 3] + "..."


def _from_run(entry: _Accepted, run: Run) -> ToolResult:
    return _ended(entry, run.id, run.ok, run.status, run.output, run.error)


def _ended(entry: _Accepted, run_id: str, ok: bool, status: str | None, output: Any,
           error: dict[str, Any] | None) -> ToolResult:
    if ok:
        return ToolResult(entry.call, True, output, run_id=run_id)
    return ToolResult(entry.call, False, error=_error_text(entry.spec, status, error),
                      run_id=run_id)


def _error_text(spec: ToolSpec, status: str | None, error: dict[str, Any] | None) -> str:
    message = (error or {}).get("message")
    kind = (error or {}).get("type")
    what = f"{kind}: {message}" if kind and message else message or kind
    return f"{spec.name} ended {status or 'FAILED'}" + (f": {what}" if what else "")


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())
