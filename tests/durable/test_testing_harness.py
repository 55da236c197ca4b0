"""Durable execution through ``outlast.testing``: what users' own test suites see."""

from __future__ import annotations

from typing import Any

import pytest

from outlast import AbortTaskRunError, Queue, Retry, batch, step, task, wait
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

reg = Registry()
calls: dict[str, int] = {}


def count(name: str) -> None:
    calls[name] = calls.get(name, 0) + 1


@step
def charge(order_id: str) -> str:
    count("charge")
    return f"ch_{order_id}"


@task(registry=reg)
def ship(payload: dict[str, Any]) -> dict[str, Any]:
    return {"shipped": payload["charge"]}


@task(registry=reg, retry=Retry(max_attempts=1))
def broken(payload: Any) -> None:
    raise AbortTaskRunError("cannot ship that")


@task(registry=reg)
def process_order(payload: dict[str, Any]) -> dict[str, Any]:
    charge_id = charge(payload["order_id"])
    wait.sleep(hours=2)
    token = wait.create_token(timeout="24h", tags=["approval"])
    answer = wait.for_token(token)
    shipment = ship.trigger_and_wait({"charge": charge_id}).unwrap()
    return {"charge": charge_id, "approved": answer.ok and answer.output["approved"],
            "shipment": shipment}


@task(registry=reg, retry=Retry(max_attempts=3, min_delay=1, randomize=False))
def flaky_after_step(payload: Any, ctx: Any) -> int:
    step.run("first", count, "first")
    if ctx.attempt.number < 3:
        raise RuntimeError("boom")
    return int(ctx.attempt.number)


@task(registry=reg)
def long_sleeper(payload: Any) -> str:
    wait.sleep(days=3)
    wait.sleep(seconds=2)  # in process
    return "rested"


@task(registry=reg)
def token_with_timeout(payload: Any) -> dict[str, Any]:
    answer = wait.for_token(wait.create_token(timeout="1h"))
    return {"ok": answer.ok, "error": answer.error}


@task(registry=reg)
def fan_out(payload: Any) -> list[Any]:
    results = ship.batch_trigger_and_wait([{"payload": {"charge": i}} for i in range(3)])
    failed = broken.trigger_and_wait({})
    return [r.output for r in results] + [failed.ok, failed.status]


@task(registry=reg)
def hands_out_its_url(payload: Any) -> str | None:
    token = wait.create_token(timeout="24h")
    wait.sleep(hours=1)  # a resume: the token is replayed from the journal
    return token.url


rated = Queue("harness-rated", rate_limit="2/m")


@task(registry=reg, queue=rated)
def rated_call(payload: Any) -> Any:
    return payload


@task(registry=reg)
def fans_out_to_a_rated_queue(payload: Any) -> list[Any]:
    results = batch.trigger_and_wait([{"task": "rated-call", "payload": i} for i in range(5)])
    return [r.output for r in results]


def flaky_call(failures: list[int]) -> str:
    if failures:
        failures.pop()
        raise RuntimeError("try again")
    return "done"


@task(registry=reg)
def step_retries_with_backoff(payload: Any) -> str:
    retry = Retry(max_attempts=3, min_delay=600, max_delay=600, factor=1, randomize=False)
    return step.run("flaky", flaky_call, [1, 1], retry=retry)


flip = {"order": ["a", "b"]}


@task(registry=reg)
def changes_its_mind(payload: Any) -> None:
    step.run(flip["order"][0], count, "x")
    wait.sleep(minutes=10)
    step.run(flip["order"][1], count, "y")


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls.clear()


def test_the_order_flow_from_the_issue() -> None:
    with TestRuns(reg) as env:
        run = env.run(process_order, {"order_id": "42"})
        assert run.status == "WAITING"
        [token] = env.tokens(run.id)
        # the callback URL is derived from the token's id: read back, it is there again
        assert token["tags"] == ["approval"] and "/callback/" in token["url"]
        env.complete_token(token["id"], {"approved": True})
        run = env.run_until_final(run.id)
    assert run.status == "COMPLETED", run.error
    assert run.output == {"charge": "ch_42", "approved": True,
                          "shipment": {"shipped": "ch_42"}}
    assert calls["charge"] == 1  # replayed four times, charged once
    assert run.attempts == 1  # waits never use up attempts


def test_a_replayed_token_has_the_url_it_was_made_with_and_the_journal_does_not() -> None:
    with TestRuns(reg) as env:
        run = env.run(hands_out_its_url)
        [token] = env.tokens()
        with env.store.transaction(write=False) as tx:
            stored = [dict(r) for r in tx.all("list_journal", run_id=run.id)]
        secret = str(run.output).rsplit("/", 1)[1]
        done = env.engine.durable.complete_token(None, token["id"], {"ok": True}, secret)
    assert run.status == "COMPLETED" and run.output == token["url"]
    assert secret not in repr(stored) and done["status"] == "COMPLETED"


def test_time_jumps_through_long_waits() -> None:
    with TestRuns(reg) as env:
        start = env.clock.now()
        run = env.run(long_sleeper)
        elapsed = env.clock.now() - start
    assert run.status == "COMPLETED" and run.output == "rested"
    assert 3 * 86400 + 2 <= elapsed < 3 * 86400 + 60


def test_runs_a_rate_limit_holds_back_start_when_the_clock_reaches_their_window() -> None:
    with TestRuns(reg) as env:
        start = env.clock.now()
        run = env.run(fans_out_to_a_rated_queue)
        starts = sorted(c.started_at.timestamp() - start  # type: ignore[union-attr]
                        for c in env.client.runs.list(parent_id=run.id))
    assert run.status == "COMPLETED" and run.output == [0, 1, 2, 3, 4]
    # at most 2 starts in any minute: the clock jumped to each window's room
    assert all(later - earlier >= 60 for earlier, later in zip(starts, starts[2:], strict=False))


def test_step_retry_backoff_passes_on_the_fake_clock() -> None:
    with TestRuns(reg) as env:
        start = env.clock.now()
        run = env.run(step_retries_with_backoff)
        elapsed = env.clock.now() - start
    assert run.status == "COMPLETED" and run.output == "done" and run.attempts == 1
    assert elapsed >= 2 * 600  # two backoffs of 10 minutes, passed in no time


def test_token_timeout_resumes_with_an_error() -> None:
    with TestRuns(reg) as env:
        run = env.run(token_with_timeout)
        assert run.status == "WAITING"  # tokens wait for the test unless told otherwise
        run = env.run_until_final(run.id, token_timeouts=True)
    assert run.output == {"ok": False, "error": {"type": "Timeout", "message": "timeout"}}


def test_retries_keep_recorded_steps() -> None:
    with TestRuns(reg) as env:
        run = env.run(flaky_after_step)
    assert (run.status, run.output, run.attempts) == ("COMPLETED", 3, 3)
    assert calls["first"] == 1


def test_batch_results_in_order_and_failed_children_do_not_throw() -> None:
    with TestRuns(reg) as env:
        run = env.run(fan_out)
        children = env.client.runs.list(parent_id=run.id)
    assert run.output == [{"shipped": 0}, {"shipped": 1}, {"shipped": 2}, False, "FAILED"]
    assert len(children) == 4 and {c.root_id for c in children} == {run.id}


def test_replay_mismatch_parks_the_run_and_resume_finishes_it() -> None:
    with TestRuns(reg) as env:
        handle = env.trigger(changes_its_mind)
        env.engine.sweep()
        first = env.engine.claim(env.environment, "w", None, 1)
        assert first
        env._execute(first[0])
        assert env.retrieve(handle.id).status == "WAITING"
        flip["order"] = ["c", "b"]
        try:
            run = env.run_until_final(handle.id)
        finally:
            flip["order"] = ["a", "b"]
        # its attempt counts (resuming goes on with it) but spends no retry
        assert (run.status, run.attempts, run.error) == ("PARKED", 1, None)
        assert run.parked is not None and run.parked["seq"] == 0
        assert run.parked["recorded"] == {"kind": "step", "name": "a"}
        assert run.parked["called"] == {"kind": "step", "name": "c"}
        assert f"outlast runs resume {run.id}" in run.parked["message"]
        assert [e.kind for e in env.events(run.id)][-1] == "park"
        resumed = env.client.runs.resume(run.id)
        assert (resumed.status, resumed.parked) == ("QUEUED", None)
        run = env.run_until_final(handle.id)
    assert (run.status, run.attempts) == ("COMPLETED", 1)
    assert calls == {"x": 1, "y": 1}, "the step recorded before the mismatch ran again"
