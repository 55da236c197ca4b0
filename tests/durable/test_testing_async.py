"""``outlast.testing.TestRuns`` answers the asyncio calls as it answers the blocking ones:
``await task.trigger_async(...)`` and ``await runs.retrieve_async(...)`` in a test go to
the harness, and ``trigger_async`` inside a run is durable like ``trigger``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from outlast import AsyncClient, batch, queues, runs, task, tasks, wait
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

reg = Registry()


@task(registry=reg)
def echo(payload: Any) -> Any:
    return {"echo": payload}


@task(registry=reg)
async def fan_out_async(payload: Any) -> list[str]:
    one = await echo.trigger_async({"n": 1})
    many = await echo.batch_trigger_async([{"payload": {"n": 2}}, {"payload": {"n": 3}}])
    by_id = await tasks.trigger_async("echo", {"n": 4})
    await wait.sleep_async(hours=1)  # a resume: the body runs again from the top
    return [one.id, *(h.id for h in many), by_id.id]


@task(registry=reg)
async def reads_its_child(payload: Any) -> str:
    handle = await echo.trigger_async({"n": 5})
    return (await handle.retrieve()).status


@pytest.fixture(autouse=True)
def no_outside_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing but the harness to reach: no ``OUTLAST_*`` variable, no dev.env."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("OUTLAST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def env(store_url: str) -> Iterator[TestRuns]:
    with TestRuns(reg, database_url=store_url) as harness:
        yield harness


def test_trigger_async_in_a_test_goes_to_the_harness(env: TestRuns) -> None:
    async def trigger() -> str:
        handle = await echo.trigger_async({"n": 1})
        return handle.id

    run_id = asyncio.run(trigger())
    assert env.retrieve(run_id).status == "QUEUED"
    env.run_until_idle()

    async def read() -> tuple[Any, Any, int]:
        run = await runs.retrieve_async(run_id)
        polled = await runs.poll_async(run_id, timeout=1)
        return run.output, polled.status, len(await runs.list_async(task="echo"))

    assert asyncio.run(read()) == ({"echo": {"n": 1}}, "COMPLETED", 1)


def test_trigger_async_inside_a_run_triggers_once_whatever_the_replays(env: TestRuns) -> None:
    run = env.run(fan_out_async, None)
    assert run.status == "COMPLETED", run.error
    children = env.client.runs.list(task="echo")
    assert sorted(c.id for c in children) == sorted(run.output)
    assert sorted(c.output["echo"]["n"] for c in children) == [1, 2, 3, 4]
    assert [c.parent_id for c in children] == [run.id] * 4


def test_the_handle_of_a_trigger_async_inside_a_run_reads_through_the_default(
        env: TestRuns) -> None:
    assert env.run(reads_its_child, None).output == "QUEUED"


def test_module_level_runs_journal_sync_and_async(env: TestRuns) -> None:
    run = env.run(fan_out_async, None)
    kinds = [e.kind for e in runs.journal(run.id)]
    assert kinds == [e.kind for e in env.journal(run.id)]
    assert kinds[-1] == "sleep" and len(kinds) == 4

    async def read() -> tuple[list[str], int, int, int]:
        journal = await runs.journal_async(run.id)
        return ([e.kind for e in journal], len(await runs.attempts_async(run.id)),
                len(await runs.events_async(run.id)), len(await runs.logs_async(run.id)))

    journal, attempts, events, _ = asyncio.run(read())
    assert journal == kinds
    assert attempts == len(runs.attempts(run.id)) == 1  # a resume is not a new attempt
    assert events == len(runs.events(run.id)) > 0


@task(registry=reg)
async def waits_for_children_async(payload: Any) -> list[Any]:
    one = await tasks.trigger_and_wait_async("echo", {"n": 1})
    more = await batch.trigger_and_wait_async([{"task": "echo", "payload": {"n": 2}}])
    return [one.output, *(r.output for r in more)]


def test_every_module_level_call_has_its_asyncio_twin(env: TestRuns) -> None:
    """The twins added beside the blocking calls, each answered by the harness."""
    run = env.run(waits_for_children_async, None)
    assert run.output == [{"echo": {"n": 1}}, {"echo": {"n": 2}}]

    async def use() -> tuple[Any, ...]:
        replayed = await runs.replay_async(run.id)
        again = await runs.reschedule_async(
            (await tasks.trigger_async("echo", None, delay="1h")).id, "2h")
        page, cursor = await env_async_client(env).runs.page(limit=1)
        names = [t.id for t in await env_async_client(env).tasks.list()]
        limit = await queues.set_environment_limit_async(7)
        assert (await runs.trace_async(run.id)) == runs.trace(run.id)
        return (replayed.task, again.status, len(page), cursor is not None,
                "echo" in names, limit.concurrency_limit,
                (await queues.environment_limit_async()).concurrency_limit)

    assert asyncio.run(use()) == ("waits-for-children-async", "DELAYED", 1, True, True, 7, 7)


def env_async_client(env: TestRuns) -> AsyncClient:
    """The AsyncClient the module-level asyncio calls use inside ``env``."""
    from outlast.sdk.client import default_async_client

    client = default_async_client()
    assert client.transport.local is env.client.transport  # type: ignore[attr-defined]
    return client
