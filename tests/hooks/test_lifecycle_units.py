"""Lifecycle hooks without a worker: the pure parts (retry decisions, typed locals, the
``[hooks]`` table) and the in-process runner (``outlast.testing``) for the combinations
of sync and async tasks, hooks and middleware."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from outlast import LocalKey, Retry, RetryDecision, hooks, step, task, wait
from outlast.config import parse_config
from outlast.core.retry import Retry as RetryPolicy
from outlast.engine.attempts import Outcome, RunFacts, decide
from outlast.errors import ConfigError, ValidationError
from outlast.sdk.durable import DurableUsageError
from outlast.sdk.locals import Locals
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns


@pytest.fixture(autouse=True)
def no_project_hooks() -> Iterator[None]:
    """Project-wide hooks are process-wide: each test starts and ends with none."""
    hooks.clear()
    yield
    hooks.clear()


# -- handle_error's decisions, applied ----------------------------------------------------

FACTS = RunFacts(max_attempts=3, retry=RetryPolicy(min_delay=2.0, randomize=False),
                 machine="small-1x")


@pytest.mark.parametrize(("changes", "delay", "machine"), [
    ({}, 2.0, "small-1x"),                                          # the policy
    ({"retry_override": 7.0}, 7.0, "small-1x"),                     # after(7)
    ({"retry_at": 1_030.0}, 30.0, "small-1x"),                      # at a time
    ({"retry_at": 900.0}, 0.0, "small-1x"),                         # a past time: at once
    ({"retry_machine": "large-2x"}, 2.0, "large-2x"),               # on another machine
    ({"retry_at": 1_005.0, "retry_machine": "micro"}, 5.0, "micro"),
])
def test_a_retry_decision_sets_when_and_where(changes: dict[str, Any], delay: float,
                                              machine: str) -> None:
    outcome = Outcome("run_1", "lease", 1, "failed", **changes)
    decision = decide(outcome, FACTS, now=1_000.0)
    assert (decision.transition, decision.delay, decision.machine) == ("retry", delay, machine)


def test_a_retry_decision_never_goes_past_max_attempts() -> None:
    outcome = Outcome("run_1", "lease", 3, "failed", retry_machine="large-1x")
    assert decide(outcome, FACTS, now=0.0).transition == "fail"
    assert decide(Outcome("r", "l", 1, "failed", retry_override=False), FACTS).transition == \
        "fail"


@pytest.mark.parametrize("make", [
    lambda: RetryDecision.after(-1),
    lambda: RetryDecision.at_time(datetime(2030, 1, 1)),  # naive: which zone?  # noqa: DTZ001
    lambda: RetryDecision.on_machine("huge"),
    lambda: RetryDecision(retry=True, delay=1, at=datetime(2030, 1, 1, tzinfo=UTC)),
    lambda: RetryDecision(retry=False, machine="micro"),
])
def test_a_bad_retry_decision_is_refused(make: Any) -> None:
    with pytest.raises(ValidationError):
        make()


def test_retry_decision_constructors() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    assert RetryDecision.skip() == RetryDecision(retry=False)
    assert RetryDecision.after(3, machine="micro") == RetryDecision(True, 3, None, "micro")
    assert RetryDecision.at_time(when).timestamp() == when.timestamp()
    assert RetryDecision.on_machine("large-1x").machine == "large-1x"


# -- typed locals -----------------------------------------------------------------------


class Client:
    pass


def test_locals_are_typed_by_their_key() -> None:
    values = Locals()
    db = LocalKey("db", type=Client)
    other = LocalKey[int]("db")   # same name, another key
    client = Client()
    values.set(db, client)
    assert values.get(db) is client and db in values and other not in values
    assert values.get(other, 5) == 5
    with pytest.raises(LookupError, match="local 'db' is not set"):
        values.get(other)
    with pytest.raises(ValidationError, match="holds Client, got str"):
        values.set(db, "not a client")  # type: ignore[arg-type]
    values.delete(db)
    assert db not in values


def test_locals_outside_a_run_are_a_clear_error() -> None:
    with pytest.raises(DurableUsageError, match="inside a running task"):
        LocalKey[int]("n").get()


# -- [hooks] in outlast.toml --------------------------------------------------------------


def test_the_hooks_table_is_read_and_handed_to_workers(tmp_path: Path) -> None:
    config = parse_config({"hooks": {"on_failure": "app.alerts:notify",
                                     "middleware": ["app.db:session", "app.trace:span"]}},
                          tmp_path / "outlast.toml")
    assert config.hooks == {"on_failure": ("app.alerts:notify",),
                            "middleware": ("app.db:session", "app.trace:span")}
    assert config.task_defaults()["hooks"] == {
        "where": "outlast.toml [hooks]",
        "declared": {"on_failure": ["app.alerts:notify"],
                     "middleware": ["app.db:session", "app.trace:span"]}}
    assert "hooks" not in parse_config({}, tmp_path / "outlast.toml").task_defaults()


@pytest.mark.parametrize(("table", "message"), [
    ({"on_fail": "a:b"}, "unknown hook(s) in [hooks]: on_fail"),
    ({"on_failure": "no_colon"}, "[hooks] on_failure must be an import path"),
    ({"middleware": [1]}, "[hooks] middleware must be an import path"),
    ("x", "[hooks] must be a table"),
])
def test_a_bad_hooks_table_names_the_key(tmp_path: Path, table: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"hooks": table}, tmp_path / "outlast.toml")
    assert message in caught.value.message


def test_declared_hooks_resolve_or_name_their_key() -> None:
    hooks.declare({"on_start": ["json:dumps"]}, "outlast.toml [hooks]")
    assert hooks.registered("on_start")[0].__name__ == "dumps"
    with pytest.raises(ConfigError, match=r"\[hooks\] cleanup: cannot import 'nope.mod:f'"):
        hooks.declare({"cleanup": ["nope.mod:f"]}, "outlast.toml [hooks]")
    with pytest.raises(ConfigError, match="unknown hook"):
        hooks.declare({"before": ["json:dumps"]})


def test_task_options_are_checked() -> None:
    registry = Registry()
    with pytest.raises(ConfigError, match="list of functions"):
        task(id="a", registry=registry, middleware=lambda p, c, n: n())(lambda p: p)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"@task\(cleanup=...\) takes a function"):
        task(id="b", registry=registry, cleanup="nope")(lambda p: p)  # type: ignore[arg-type]


def test_a_definition_lists_the_hooks_a_task_runs() -> None:
    registry = Registry()
    mine = task(id="mine", registry=registry, on_complete=print, middleware=[print])(
        lambda p: p)
    assert mine.definition().hooks == ("middleware", "on_complete")
    hooks.on_failure(print)
    assert mine.definition().hooks == ("middleware", "on_complete", "on_failure")


# -- in process: sync and async, hooks and middleware ----------------------------------------


def test_async_and_sync_middleware_and_hooks_mix_on_any_task() -> None:
    registry, seen = Registry(), []
    key = LocalKey[str]("who")

    async def async_mw(payload: Any, ctx: Any, next: Any) -> Any:
        seen.append("amw-in")
        ctx.locals.set(key, "async")
        output = await next()
        seen.append(f"amw-out:{output}")

    def sync_mw(payload: Any, ctx: Any, next: Any) -> Any:
        seen.append("smw-in")
        seen.append(f"smw-out:{next()}")

    async def async_init(payload: Any, ctx: Any) -> int:
        return 41

    async def async_success(payload: Any, output: Any, ctx: Any) -> None:
        seen.append(f"success:{output}:{ctx.init}")

    options: dict[str, Any] = {"middleware": [async_mw, sync_mw], "init": async_init,
                               "on_success": async_success, "registry": registry}

    @task(id="sync-t", **options)
    def sync_task(payload: Any, ctx: Any) -> str:
        return f"{key.get()}-{ctx.init + 1}"

    @task(id="async-t", **options)
    async def async_task(payload: Any, ctx: Any) -> str:
        await wait.sleep_async(seconds=0.5)
        return f"{key.get()}-{ctx.init + 1}"

    with TestRuns(registry) as env:
        for one in (sync_task, async_task):
            seen.clear()
            run = env.run(one, None)
            assert (run.status, run.output) == ("COMPLETED", "async-42")
            assert seen == ["amw-in", "smw-in", "smw-out:async-42", "amw-out:async-42",
                            "success:async-42:41"]


def test_a_context_first_read_by_a_hook_holds_the_run_and_the_task_s_locals() -> None:
    """A task that takes no ``ctx`` never makes it; the hook that first reads it gets the
    run's, with the locals the task set."""
    registry, seen = Registry(), []
    key = LocalKey[str]("who")

    def success(payload: Any, output: Any, ctx: Any) -> None:
        seen.append((ctx.run.id, ctx.attempt.number, ctx.task.id, ctx.locals.get(key)))

    @task(id="no-ctx", registry=registry, on_success=success)
    def plain(payload: Any) -> str:
        key.set("set-by-the-task")
        return "ok"

    with TestRuns(registry) as env:
        run = env.run(plain, None)
    assert seen == [(run.id, 1, "no-ctx", "set-by-the-task")]


def test_next_twice_fails_the_attempt_and_hooks_cannot_journal() -> None:
    registry = Registry()

    def twice(payload: Any, ctx: Any, next: Any) -> Any:
        next()
        return next()

    def journals(payload: Any, wait_info: Any, ctx: Any) -> None:
        step.run("from-a-hook", lambda: 1)

    @task(id="twice", registry=registry, middleware=[twice], retry=Retry(max_attempts=1))
    def twice_task(payload: Any) -> int:
        return 1

    @task(id="journals", registry=registry, on_wait=journals)
    def journals_task(payload: Any) -> int:
        wait.sleep(seconds=60)
        return 2

    with TestRuns(registry) as env:
        twice_run = env.run(twice_task, None)
        assert twice_run.status == "FAILED"
        assert "called next() twice" in (twice_run.error or {})["message"]
        run = env.run(journals_task, None)
        assert (run.status, run.output) == ("COMPLETED", 2)
        [event] = [e for e in env.events(run.id) if e.kind == "hook_error"]
        assert event.data["hook"] == "on_wait"
        assert "started in a on_wait hook" in event.data["error"]["message"]
        assert [e.name for e in env.journal(run.id)] == ["sleep"]


def test_project_hooks_in_code_run_for_every_task() -> None:
    registry, seen = Registry(), []
    hooks.on_start(lambda payload, ctx: seen.append(f"start:{ctx.task.id}"))
    hooks.handle_error(lambda payload, error, ctx: RetryDecision.skip())

    @task(id="plain", registry=registry)
    def plain(payload: Any) -> None:
        raise RuntimeError("no retry: the project's handle_error says so")

    with TestRuns(registry) as env:
        run = env.run(plain, None)
    assert (run.status, run.attempts) == ("FAILED", 1)
    assert seen == ["start:plain"]
