"""The agent of docs/guides/ai-tools.md, exactly as printed there, run offline with its
scripted model on both stores: it answers, each good tool call was one child run, and a
replay after a failed attempt calls no tool again."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from outlast.sdk.registry import Registry, default_registry
from outlast.testing import TestRuns

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "ai-tools.md"
BLOCK = re.compile(r'```python title="agent\.py"\n(.*?)```', re.DOTALL)
QUESTION = {"question": "Warmer: Paris or Oslo?"}


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[ModuleType]:
    """The guide's agent.py as a fresh module; its tasks stay out of the default registry."""
    [source] = BLOCK.findall(GUIDE.read_text())
    path = tmp_path / "agent.py"
    path.write_text(source)
    before = default_registry.snapshot()
    spec = importlib.util.spec_from_file_location("guide_agent", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        module.registry = Registry()
        for task in (module.current_weather, module.weather_agent):
            module.registry.add(task)
        yield module
    finally:
        default_registry.restore(before)


def tool_results(run_output: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [m["content"] for m in run_output["messages"]
            if m["role"] == "user" and isinstance(m["content"], list)]


def test_the_guides_agent_answers_with_one_child_run_per_good_call(
        agent: ModuleType, store_url: str) -> None:
    with TestRuns(agent.registry, database_url=store_url) as env:
        run = env.run(agent.weather_agent, QUESTION)
        kids = env.client.runs.list(parent_id=run.id)
        journal = [(e.kind, e.name) for e in env.journal(run.id)]
    assert run.status == "COMPLETED", run.error
    assert run.output["answer"] == "Paris (21 °C) is warmer than Oslo (4 °C)."
    first, second = tool_results(run.output)
    assert first == [
        {"type": "tool_result", "tool_use_id": "call-1",
         "content": '{"city": "Paris", "temp_c": 21}', "is_error": False},
        {"type": "tool_result", "tool_use_id": "call-2",
         "content": "invalid arguments for weather_current: city: Field required",
         "is_error": True}]
    assert second == [{"type": "tool_result", "tool_use_id": "call-3",
                       "content": '{"city": "Oslo", "temp_c": 4}', "is_error": False}]
    assert sorted(k.payload["city"] for k in kids) == ["Oslo", "Paris"]  # call-2 never ran
    assert journal == [("step", "model-0"), ("trigger_wait", "tools: weather_current"),
                       ("step", "model-1"), ("trigger_wait", "tools: weather_current"),
                       ("step", "model-2")]
    assert agent.model.calls == 3  # each resume replayed the earlier replies


def test_a_replay_after_a_failed_attempt_calls_no_tool_again(
        agent: ModuleType, store_url: str) -> None:
    """The model's API fails on the second turn, once: the attempt ends, the retry replays
    the first turn's reply and tool results from the journal and goes on from there."""
    real = agent.model.create
    failures = []

    def flaky(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Any:
        if len(messages) == 3 and not failures:
            failures.append(1)
            raise ConnectionError("the model's API went away")
        return real(messages, tools)

    agent.model.create = flaky
    with TestRuns(agent.registry, database_url=store_url) as env:
        run = env.run(agent.weather_agent, QUESTION)
        kids = env.client.runs.list(parent_id=run.id)
    assert run.status == "COMPLETED", run.error
    assert run.attempts == 2 and failures == [1]
    assert run.output["answer"].startswith("Paris")
    assert sorted(k.payload["city"] for k in kids) == ["Oslo", "Paris"]
    assert all(k.attempts == 1 for k in kids)
