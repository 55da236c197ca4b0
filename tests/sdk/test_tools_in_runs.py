"""A model's tool calls run from inside a task: one durable child run per call, in one
batch per model turn, on both stores; bad calls and failed tools come back as results."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest

from outlast import Retry, task, tools
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

reg = Registry()


@dataclass
class City:
    city: str


@task(id="tl.weather", registry=reg)
def weather(query: City) -> dict[str, Any]:
    """The temperature in a city."""
    return {"city": query.city, "temp_c": len(query.city)}


@task(id="tl/broken", registry=reg, retry=Retry(max_attempts=1))
def broken(payload: Any) -> None:
    raise ValueError("no station there")


@task(id="tl-text", registry=reg)
def text(payload: Any) -> str:
    return "plain text"


toolset = tools.Toolset(weather, broken, text)


@task(id="tl-caller", registry=reg)
def caller(payload: dict[str, Any]) -> list[Any]:
    return [[r.message, r.run_id] for r in toolset.call(payload["calls"])]


@task(id="tl-async-caller", registry=reg)
async def async_caller(payload: dict[str, Any]) -> list[Any]:
    return [[r.message, r.run_id] for r in await toolset.call_async(payload["calls"])]


@task(id="tl-forgetful", registry=reg, retry=Retry(max_attempts=2, min_delay=1))
def forgetful(payload: Any, ctx: Any) -> None:
    """Its "model reply" is not recorded: the retry asks for another tool at the same place."""
    name = "tl_weather" if ctx.attempt.number == 1 else "tl-text"
    toolset.call([call_of("openai", "c1", name, {"city": "Paris"})])
    raise RuntimeError("fails after the tools, to be retried")


def call_of(format: str, call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    """A model's tool call, as ``format``'s API writes it."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    if format == "openai":
        return {"id": call_id, "type": "function",
                "function": {"name": name, "arguments": raw}}
    if format == "openai-responses":
        return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id,
                "name": name, "arguments": raw, "status": "completed"}
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def result_of(format: str, call_id: str, content: str, error: bool) -> dict[str, Any]:
    """The tool-result message ``format``'s API expects back."""
    if format == "anthropic":
        return {"type": "tool_result", "tool_use_id": call_id, "content": content,
                "is_error": error}
    text = f"Error: {content}" if error else content
    if format == "openai-responses":
        return {"type": "function_call_output", "call_id": call_id, "output": text}
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def a_turn(format: str) -> list[dict[str, Any]]:
    """Two good calls at once, a failing tool, an unknown tool and bad arguments."""
    return [call_of(format, "c1", "tl_weather", {"city": "Paris"}),
            call_of(format, "c2", "tl_weather", {"city": "Oslo"}),
            call_of(format, "c3", "tl_broken", {}),
            call_of(format, "c4", "tl-text", {}),
            call_of(format, "c5", "tl_nope", {}),
            call_of(format, "c6", "tl_weather", {"town": "Rome"})]


def expected_results(format: str) -> list[dict[str, Any]]:
    return [
        result_of(format, "c1", '{"city": "Paris", "temp_c": 5}', False),
        result_of(format, "c2", '{"city": "Oslo", "temp_c": 4}', False),
        result_of(format, "c3", "tl_broken ended FAILED: ValueError: no station there", True),
        result_of(format, "c4", "plain text", False),
        result_of(format, "c5", "unknown tool 'tl_nope'; the tools are: tl_weather, "
                                "tl_broken, tl-text", True),
        result_of(format, "c6", "invalid arguments for tl_weather: city: Field required",
                  True),
    ]


@pytest.mark.parametrize("format", ["openai", "openai-responses", "anthropic"])
def test_each_providers_calls_become_child_runs_and_results(store_url: str,
                                                            format: str) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(caller, {"calls": a_turn(format)})
        kids = env.client.runs.list(parent_id=run.id)
        journal = env.journal(run.id)
    assert run.status == "COMPLETED", run.error
    assert [message for message, _ in run.output] == expected_results(format)
    # one child run per good call (the refused ones start none), in one durable batch
    by_id = {k.id: k for k in kids}
    run_ids = [run_id for _, run_id in run.output]
    assert run_ids[4:] == [None, None] and set(run_ids[:4]) == set(by_id)
    assert [by_id[i].task for i in run_ids[:4]] == ["tl.weather", "tl.weather", "tl/broken",
                                                    "tl-text"]
    assert by_id[run_ids[0]].payload == {"city": "Paris"}
    assert [(e.kind, e.name) for e in journal] == [
        ("trigger_wait", "tools: tl_weather, tl_weather, tl_broken, tl-text")]


def test_async_tasks_call_tools_durably_too(store_url: str) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(async_caller, {"calls": a_turn("anthropic")})
        kids = env.client.runs.list(parent_id=run.id)
    assert run.status == "COMPLETED", run.error
    assert [message for message, _ in run.output] == expected_results("anthropic")
    assert len(kids) == 4


def test_a_single_call_is_a_batch_of_one(store_url: str) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(caller, {"calls": [call_of("openai", "c1", "tl_weather",
                                                 {"city": "Rome"})]})
        [kid] = env.client.runs.list(parent_id=run.id)
    assert run.output == [[result_of("openai", "c1", '{"city": "Rome", "temp_c": 4}', False),
                           kid.id]]


def test_a_turn_with_only_refused_calls_starts_no_run_and_records_nothing(
        store_url: str) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(caller, {"calls": [call_of("openai", "c1", "tl_weather", "{oops")]})
        assert env.client.runs.list(parent_id=run.id) == []
        assert env.journal(run.id) == []
    [[message, run_id]] = run.output
    assert run_id is None and message["content"].startswith("Error: arguments are not valid")


def test_call_async_outside_a_run_refuses_bad_calls_without_a_client() -> None:
    [result] = asyncio.run(toolset.call_async([call_of("anthropic", "c", "nope", {})]))
    assert result.message["is_error"] is True


def test_a_replay_meeting_other_tool_calls_parks_instead_of_mixing_results(
        store_url: str) -> None:
    with TestRuns(reg, database_url=store_url) as env:
        run = env.run(forgetful)
        kids = env.client.runs.list(parent_id=run.id)
    assert run.status == "PARKED"
    assert run.parked is not None and "tools: tl_weather" in str(run.parked)
    assert [k.task for k in kids] == ["tl.weather"]  # tl-text never ran
