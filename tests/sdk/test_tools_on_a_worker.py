"""Tool calls on a real worker, on both stores: from plain code (sync and asyncio) the
runs are triggered and waited for; inside a run whose process dies, the retry reads the
tool results from the journal and starts no tool run again."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.sdk import client as sdk_client
from outlast.sdk.registry import default_registry
from outlast.store import Store
from tests.sdk.test_tools_in_runs import call_of, result_of
from tests.worker.support import running_worker, trigger, wait_final

PROJECT = Path(__file__).parent / "project"


def load_tasks() -> ModuleType:
    """The project's task module, loaded here without adding to the default registry."""
    before = default_registry.snapshot()
    spec = importlib.util.spec_from_file_location(
        "tool_tasks_here", PROJECT / "tasks" / "tool_tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: its dataclass needs it
    try:
        spec.loader.exec_module(module)
    finally:
        default_registry.restore(before)
    return module


here = load_tasks()


@pytest.fixture
def worker_engine(store: Store, store_url: str,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A worker over the project's tasks, and plain code's default client on its database."""
    engine = Engine(store, lease_seconds=3)
    monkeypatch.delenv("OUTLAST_API_URL", raising=False)
    monkeypatch.setenv("OUTLAST_DATABASE_URL", store_url)
    monkeypatch.setenv("OUTLAST_ENVIRONMENT", "dev")
    sdk_client.configure(None)
    with running_worker(engine, concurrency=4, root=PROJECT, probe="tw-crashing-agent"):
        try:
            yield engine
        finally:
            sdk_client.default_client().close()
            sdk_client.configure(None)


def turn(format: str) -> list[dict[str, Any]]:
    return [call_of(format, "c1", "tw_weather", {"city": "Paris"}),
            call_of(format, "c2", "tw_broken", {}),
            call_of(format, "c3", "tw_nope", {})]


def expected(format: str) -> list[dict[str, Any]]:
    return [result_of(format, "c1", '{"city": "Paris", "temp_c": 5}', False),
            result_of(format, "c2", "tw_broken ended FAILED: ValueError: no station there",
                      True),
            result_of(format, "c3", "unknown tool 'tw_nope'; the tools are: tw_weather, "
                                    "tw_broken, tw-slow", True)]


def test_plain_code_triggers_the_runs_and_waits_for_them(worker_engine: Engine,
                                                         tmp_path: Path) -> None:
    results = here.toolset.call(turn("openai"))
    assert [r.message for r in results] == expected("openai")
    assert results[0].output == {"city": "Paris", "temp_c": 5}
    run = worker_engine.retrieve("dev", results[0].run_id)
    assert run["task"] == "tw.weather" and run["parent_id"] is None

    async def from_asyncio() -> list[Any]:
        try:
            return await here.toolset.call_async(turn("anthropic"))
        finally:
            await sdk_client.default_async_client().aclose()

    assert [r.message for r in asyncio.run(from_asyncio())] == expected("anthropic")

    release = tmp_path / "release"
    impatient = here.tools.Toolset(here.slow, timeout=0.3)
    [late] = impatient.call([call_of("openai-responses", "c9", "tw-slow",
                                     {"release": str(release)})])
    assert late.message == result_of("openai-responses", "c9",
                                     "tw-slow did not finish within 0.3s", True)
    release.touch()
    assert wait_final(worker_engine, str(late.run_id))["status"] == "COMPLETED"


def test_a_crash_after_tool_calls_does_not_call_them_again(worker_engine: Engine,
                                                          tmp_path: Path) -> None:
    calls = [call_of("anthropic", "c1", "tw_weather", {"city": "Oslo"}),
             call_of("anthropic", "c2", "tw_weather", {"city": "Rome"})]
    agent = trigger(worker_engine, "tw-crashing-agent",
                    {"calls": calls, "marker": str(tmp_path / "crashed")})
    run = wait_final(worker_engine, agent, timeout=60)
    assert run["status"] == "COMPLETED", run["error"]
    assert (tmp_path / "crashed").exists()
    attempts = [a["status"] for a in worker_engine.attempts(agent)]
    assert attempts[0] == "CRASHED" and len(attempts) == 2
    kids, _ = worker_engine.list_runs("dev", parent_id=agent, limit=10)
    assert sorted(k["payload"]["city"] for k in kids) == ["Oslo", "Rome"]
    assert [m for m, _ in run["output"]] == [
        result_of("anthropic", "c1", '{"city": "Oslo", "temp_c": 4}', False),
        result_of("anthropic", "c2", '{"city": "Rome", "temp_c": 4}', False)]
