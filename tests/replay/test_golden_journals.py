"""Golden journals: journals recorded by earlier code must keep replaying against today's.

Each file in ``golden/`` holds a task id, its payload, the journal the engine stored
(kind, name, status, result per sequence number) and what replaying it must do: return
the recorded output, suspend at a pending entry, or fail with ``NonDeterminismError``
naming the position, what was recorded and what the code now calls. Replay here runs the
task function against a runtime that only serves the journal: any attempt to execute a
durable operation for real, or any step body running, fails the test.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from outlast import DurableUsageError, NonDeterminismError
from outlast.core.durable_requests import DurableRequest, ReadJournal, Record
from outlast.sdk.durable import DurableRun, SuspendRun, current_run
from outlast.testing import TestRuns
from tests.replay import tasks
from tests.replay.record_goldens import JOURNAL_FIELDS, record

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*.json"))


class JournalOnly:
    """A runtime that serves a recorded journal and refuses everything else."""

    def __init__(self, journal: list[dict[str, Any]]) -> None:
        self.journal = journal
        self.ops: list[str] = []

    def __call__(self, request: DurableRequest) -> Any:
        self.ops.append(request.op)
        if not isinstance(request, ReadJournal):
            raise AssertionError(f"replay executed {request!r} for real")
        return [{k: e[k] for k in JOURNAL_FIELDS} for e in self.journal]


class RecordingRuntime:
    """An empty journal whose writes succeed: the first attempt of a run, in memory."""

    def __init__(self) -> None:
        self.written: list[tuple[int, str, str]] = []

    def __call__(self, request: DurableRequest) -> Any:
        if isinstance(request, ReadJournal):
            return []
        assert isinstance(request, Record), request
        self.written.append((request.at.seq, request.at.kind, request.at.name))
        return {"done": True, "result": request.result}


def replay(golden: dict[str, Any], runtime: Any) -> Any:
    """Call the task function from the top, as an attempt does, with ``runtime``."""
    task = tasks.reg.get(golden["task"])
    run = DurableRun(golden.get("run_id", "run_replay"), "lease_replay", 2, "test", runtime)
    token = current_run.set(run)
    try:
        result = task.fn(golden["payload"])
        return asyncio.run(result) if asyncio.iscoroutine(result) else result
    finally:
        current_run.reset(token)


@pytest.fixture(autouse=True)
def _nothing_executed() -> None:
    tasks.executed.clear()


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_golden_journal_replays(path: Path) -> None:
    golden = load(path)
    runtime = JournalOnly(golden["journal"])
    expect = golden["expect"]
    if "output" in expect:
        assert replay(golden, runtime) == expect["output"]
    elif "suspend_at" in expect:
        with pytest.raises(SuspendRun, match=f"#{expect['suspend_at']}$"):
            replay(golden, runtime)
    else:
        mismatch = expect["non_determinism"]
        with pytest.raises(NonDeterminismError) as caught:
            replay(golden, runtime)
        assert caught.value.details == mismatch
        message = str(caught.value)
        assert f"#{mismatch['seq']}" in message
        assert f"{mismatch['recorded']['kind']} {mismatch['recorded']['name']!r}" in message
        assert f"{mismatch['called']['kind']} {mismatch['called']['name']!r}" in message
    assert tasks.executed == [], "a step body ran during replay"
    assert runtime.ops == ["journal"], "replay asked the runtime for more than the journal"


def test_goldens_cover_every_durable_operation_and_outcome() -> None:
    goldens = [load(f) for f in FILES]
    kinds = {e["kind"] for g in goldens for e in g["journal"]}
    assert kinds >= {"step", "sleep", "create_token", "wait_token", "trigger", "trigger_wait",
                     "idempotency_key", "patch"}
    outcomes = {next(iter(g["expect"])) for g in goldens}
    assert outcomes == {"output", "suspend_at", "non_determinism"}
    assert any(tasks.reg.get(g["task"]).is_async for g in goldens)


RECORDED = sorted({load(f)["task"] for f in FILES if "output" in load(f)["expect"]})


@pytest.mark.parametrize("task_id", RECORDED)
def test_todays_code_writes_the_journal_the_golden_holds(task_id: str) -> None:
    """Kinds, names and order as recorded; results hold ids and times, so only the output is
    compared."""
    golden = load(GOLDEN / f"{task_id}.json")
    fresh = record(task_id)
    # wait_token entries are named after the token's id, which is new in every run
    shape = [[(e["seq"], e["kind"], e["status"],
               "<token id>" if e["kind"] == "wait_token" else e["name"]) for e in g["journal"]]
             for g in (golden, fresh)]
    assert shape[1] == shape[0]
    assert fresh["expect"] == golden["expect"]


def test_asyncio_gather_of_two_steps_is_a_clear_usage_error() -> None:
    runtime = RecordingRuntime()
    with pytest.raises(DurableUsageError) as caught:
        replay({"task": "gathers", "payload": None}, runtime)
    message = str(caught.value)
    assert "step 'fetch'" in message and "asyncio.gather" in message
    assert "one at a time" in message
    assert runtime.written == [(0, "step", "fetch")]  # the first one still completed


def test_asyncio_gather_fails_the_run_through_the_engine() -> None:
    with TestRuns(tasks.reg) as env:
        run = env.run("gathers")
    assert run.status == "FAILED"
    assert run.error is not None and run.error["type"] == "DurableUsageError"
    assert "asyncio.gather" in run.error["message"]


def test_async_steps_awaited_in_turn_get_stable_sequence_numbers() -> None:
    runtime = RecordingRuntime()

    async def in_turn() -> list[int]:
        return [await tasks.fetch(n) for n in range(4)]

    run = DurableRun("run_x", "lease_x", 1, "test", runtime)
    token = current_run.set(run)
    try:
        assert asyncio.run(in_turn()) == [0, 10, 20, 30]
    finally:
        current_run.reset(token)
    assert runtime.written == [(n, "step", "fetch") for n in range(4)]
