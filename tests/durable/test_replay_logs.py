"""Replayed code's log lines are recorded once: ``outlast.testing`` on both stores."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from outlast import Retry, logger, step, task, wait
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns

reg = Registry()
flip = {"order": ["a", "b"]}


def lines(env: TestRuns, run_id: str) -> Counter[str]:
    return Counter(line.message for line in env.logs(run_id))


@task(registry=reg, retry=Retry(max_attempts=3, min_delay=1, randomize=False))
def chatty(payload: dict[str, Any], ctx: Any) -> int:
    logger.info("start")
    print("printed start")
    logging.getLogger("user.code").warning("logged start")
    first = step.run("a", lambda: 1)
    logger.info("between")
    if ctx.attempt.number <= payload.get("fail_after_a", 0):
        raise RuntimeError("fails after step a")
    if payload.get("token"):
        wait.for_token(wait.create_token(timeout="1h"))
    else:
        wait.sleep(hours=1)
    logger.info("after")
    print("printed after")
    return int(first + step.run("b", lambda: 2))


@task(registry=reg, retry=Retry(max_attempts=3, min_delay=1, randomize=False))
def plain(payload: Any, ctx: Any) -> int:
    logger.info(f"try {ctx.attempt.number}")
    print("printed try")
    if ctx.attempt.number < 3:
        raise RuntimeError("not yet")
    return int(ctx.attempt.number)


@task(registry=reg)
def changes_its_mind(payload: Any) -> None:
    logger.info("before")
    step.run(flip["order"][0], lambda: 1)
    wait.sleep(minutes=10)
    step.run(flip["order"][1], lambda: 2)


@pytest.fixture
def env(store_url: str) -> Iterator[TestRuns]:
    with TestRuns(reg, database_url=store_url) as runs:
        yield runs


def test_a_resumed_run_logs_each_line_once(env: TestRuns) -> None:
    run = env.run(chatty, {})
    assert (run.status, run.output, run.attempts) == ("COMPLETED", 3, 1)
    assert lines(env, run.id) == {"start": 1, "printed start": 1, "logged start": 1,
                                  "between": 1, "after": 1, "printed after": 1}


def test_a_token_wait_replays_without_repeating(env: TestRuns) -> None:
    run = env.run(chatty, {"token": True})
    assert run.status == "WAITING"
    assert lines(env, run.id) == {"start": 1, "printed start": 1, "logged start": 1,
                                  "between": 1}
    [token] = env.tokens(run.id)
    env.complete_token(token["id"], {"ok": True})
    run = env.run_until_final(run.id)
    assert run.status == "COMPLETED"
    assert lines(env, run.id) == {"start": 1, "printed start": 1, "logged start": 1,
                                  "between": 1, "after": 1, "printed after": 1}


def test_a_retry_after_step_a_replays_start_and_runs_the_rest_live(env: TestRuns) -> None:
    run = env.run(chatty, {"fail_after_a": 1})
    assert (run.status, run.attempts) == ("COMPLETED", 2)
    # "between" follows the last recorded operation (step a): the retry runs it live
    assert lines(env, run.id) == {"start": 1, "printed start": 1, "logged start": 1,
                                  "between": 2, "after": 1, "printed after": 1}


def test_a_plain_task_logs_every_attempt(env: TestRuns) -> None:
    run = env.run(plain)
    assert (run.status, run.attempts) == ("COMPLETED", 3)
    assert lines(env, run.id) == {"try 1": 1, "try 2": 1, "try 3": 1, "printed try": 3}


def test_a_parked_run_says_so_in_its_logs(env: TestRuns) -> None:
    handle = env.trigger(changes_its_mind)
    env.engine.sweep()
    [row] = env.engine.claim(env.environment, "w", None, 1)
    env._execute(row)
    flip["order"] = ["c", "b"]
    try:
        run = env.run_until_final(handle.id)
    finally:
        flip["order"] = ["a", "b"]
    assert run.status == "PARKED"
    messages = [line.message for line in env.logs(run.id)]
    assert messages.count("before") == 1
    assert any(m.startswith("the run is parked") for m in messages)
