"""Suspend and resume under random programs, values and lost attempts (hypothesis).

One task interprets a random program of durable operations: steps returning random JSON
values (``None``, ``{}``, unicode, large nested ones), short (in-process) and long
(suspending) sleeps, ``wait.until`` in the past and future, tokens completed by the test,
completed before the wait, or timing out, child runs and batches (some failing), and
failures that use up an attempt. The driver runs it through ``outlast.testing.TestRuns``
(a fake clock, so days pass at once) and now and then loses an attempt the way a killed
worker does: the attempt stops at a random durable operation, just before or just after
the engine wrote it, its outcome never arrives, and the sweeper recovers the run once its
lease lapses.

Invariants: every run ends, COMPLETED, with exactly the expected output (so every value
round-trips through the journal); a recorded step never runs again (a step runs once plus
once per attempt lost between its body and its journal write); one token per token
operation and one child per child, whatever the replays.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outlast import AbortTaskRunError, Retry, step, task, wait
from outlast.core.durable_requests import DurableRequest, ReadJournal, Record
from outlast.errors import ConflictError
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from outlast.worker.executor import run_attempt
from outlast.worker.messages import Assignment

T0 = 1_767_225_600.0
LEASE = 60.0
TIMEOUT_ERROR = {"type": "Timeout", "message": "timeout"}

reg = Registry()
executions: Counter[tuple[str, int]] = Counter()
failed_once: set[tuple[str, int]] = set()
current: dict[str, TestRuns] = {}


def _step_body(run_id: str, index: int, value: Any) -> Any:
    executions[(run_id, index)] += 1
    return value


def _complete_early(token_id: str, value: Any) -> None:
    # an attempt lost after this and before the journal write runs it again
    with contextlib.suppress(ConflictError):
        current["env"].complete_token(token_id, value)


@task(registry=reg, retry=Retry(max_attempts=1))
def child(payload: dict[str, Any]) -> Any:
    if not payload["ok"]:
        raise AbortTaskRunError("the child failed")
    return payload["value"]


def _token(run_id: str, i: int, op: dict[str, Any]) -> list[Any]:
    timeout = "1h" if op["mode"] == "timeout" else "30d"
    token = wait.create_token(timeout=timeout, tags=[f"op:{i}", op["mode"]])
    if op["mode"] == "early":
        step.run(f"complete-{i}", _complete_early, token.id, op["value"])
    answer = wait.for_token(token)
    return [answer.ok, answer.output, answer.error]


def _children(op: dict[str, Any]) -> Any:
    if op["op"] == "child":
        result = child.trigger_and_wait({"ok": op["ok"], "value": op["value"]})
        return [result.ok, result.output]
    results = child.batch_trigger_and_wait(
        [{"payload": {"ok": ok, "value": value}} for ok, value in op["items"]])
    return [[r.ok, r.output] for r in results]


def _one(run_id: str, i: int, op: dict[str, Any]) -> Any:
    kind = op["op"]
    if kind == "step":
        return step.run(f"s{i}", _step_body, run_id, i, op["value"])
    if kind == "sleep":
        return wait.sleep(seconds=op["seconds"])
    if kind == "until":
        return wait.until(datetime.fromtimestamp(T0 + op["offset"], tz=UTC))
    if kind == "token":
        return _token(run_id, i, op)
    if kind == "fail":
        if (run_id, i) not in failed_once:
            failed_once.add((run_id, i))
            raise RuntimeError(f"failing once at op {i}")
        return None
    return _children(op)


@task(registry=reg, retry=Retry(max_attempts=30, min_delay=1, randomize=False))
def interpreter(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    results = [_one(ctx.run.id, i, op) for i, op in enumerate(payload["ops"])]
    return {"echo": payload["echo"], "results": results}


# -- what to expect -----------------------------------------------------------------------


def expected(op: dict[str, Any]) -> Any:
    kind = op["op"]
    if kind == "step":
        return op["value"]
    if kind == "token":
        if op["mode"] == "timeout":
            return [False, None, TIMEOUT_ERROR]
        return [True, op["value"], None]
    if kind == "child":
        return [op["ok"], op["value"] if op["ok"] else None]
    if kind == "batch":
        return [[ok, value if ok else None] for ok, value in op["items"]]
    return None


# -- strategies ---------------------------------------------------------------------------

LARGE: dict[str, Any] = {
    f"key-{i}": [i, "ü" * 20, {"deep": [None, {}, [], {"n": i / 7}]}] for i in range(300)}
for _ in range(40):
    LARGE = {"nested": LARGE, "list": [LARGE.get("list")]}

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**63)
           | st.floats(allow_nan=False, allow_infinity=False) | text)
values = st.one_of(
    st.just(None), st.just({}), st.just([]), st.just(""), st.just("ünïcødé ✓ 🍕 中文"),
    st.just(LARGE),
    st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(text, inner, max_size=4), max_leaves=12),
)

ops = st.one_of(
    st.builds(lambda v: {"op": "step", "value": v}, values),
    st.builds(lambda s: {"op": "sleep", "seconds": s},
              st.sampled_from([0, 0.5, 4.9, 5, 60, 7200, 3 * 86400])),
    st.builds(lambda o: {"op": "until", "offset": o}, st.sampled_from([-3600, 1, 10, 86400])),
    st.builds(lambda m, v: {"op": "token", "mode": m, "value": v},
              st.sampled_from(["late", "early", "timeout"]), values),
    st.builds(lambda ok, v: {"op": "child", "ok": ok, "value": v}, st.booleans(), values),
    st.builds(lambda items: {"op": "batch", "items": items},
              st.lists(st.tuples(st.booleans(), values).map(list), min_size=1, max_size=3)),
    st.just({"op": "fail"}),
)

#: where an attempt is lost: at its n-th durable write, just before or just after it
crashes = st.lists(st.tuples(st.integers(1, 8), st.booleans()), max_size=3)


# -- the driver ---------------------------------------------------------------------------


class Died(BaseException):
    """The attempt's process is gone: nothing after this point happens."""


class DyingRuntime:
    """Forwards durable operations, then dies at the ``at``-th write (before or after it)."""

    def __init__(self, env: TestRuns, at: int, before: bool,
                 lost_steps: Counter[int]) -> None:
        self.env, self.at, self.before, self.lost_steps = env, at, before, lost_steps
        self.writes = 0

    def __call__(self, request: DurableRequest) -> Any:
        if isinstance(request, ReadJournal):
            return self.env._runtime(request)
        self.writes += 1
        if self.writes == self.at and self.before:
            if (isinstance(request, Record) and request.at.kind == "step"
                    and request.at.name.startswith("s")):
                self.lost_steps[int(request.at.name[1:])] += 1  # the body ran, unrecorded
            raise Died()
        answer = self.env._runtime(request)
        if self.writes == self.at:
            raise Died()
        return answer


def execute(env: TestRuns, row: dict[str, Any], runtime: Any) -> Any:
    job = Assignment(run=dict(row), lease_id=row["lease_id"], attempt=row["attempt_count"],
                     memory_limit=None, environment=env.environment)
    return run_attempt(reg.get(row["task_id"]), job, lambda message: None, runtime)


def complete_late_tokens(env: TestRuns, by_op: dict[int, Any]) -> bool:
    done = False
    for token in env.tokens():
        if "late" in token["tags"]:
            [index] = [int(t[3:]) for t in token["tags"] if t.startswith("op:")]
            env.complete_token(token["id"], by_op[index])
            done = True
    return done


def drive(env: TestRuns, run_id: str, program: list[dict[str, Any]],
          plan: list[tuple[int, bool]]) -> Counter[int]:
    """Run everything to the end, losing attempts of the interpreter as ``plan`` says."""
    lost_steps: Counter[int] = Counter()
    values = {i: op.get("value") for i, op in enumerate(program)}
    for _ in range(500):
        env.engine.sweep()
        claimed = env.engine.claim(env.environment, "worker", None, 1)
        if claimed:
            row = claimed[0]
            if row["id"] == run_id and plan:
                at, before = plan.pop(0)
                execute(env, row, DyingRuntime(env, at, before, lost_steps))
                # The attempt is gone (the outcome never arrives) unless it ended before
                # reaching its death; either way its lease lapses and the sweeper steps in.
                env.clock.advance(LEASE + 1)
            else:
                finished = execute(env, row, env._runtime)
                env.engine.record([_outcome(finished)])
            continue
        if complete_late_tokens(env, values):
            continue
        if not env._jump(token_timeouts=True):
            return lost_steps
    raise AssertionError("the run did not settle within 500 rounds")


def _outcome(finished: Any) -> Any:
    from outlast.testing import _outcome as outcome

    return outcome(finished)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=st.lists(ops, max_size=8), echo=values, plan=crashes)
def test_random_programs_survive_suspends_crashes_and_replays(
        program: list[dict[str, Any]], echo: Any, plan: list[tuple[int, bool]]) -> None:
    with TestRuns(reg, start=T0) as env:
        env.engine.lease_seconds = LEASE
        current["env"] = env
        handle = env.trigger(interpreter, {"ops": program, "echo": echo})
        lost_steps = drive(env, handle.id, program, list(plan))
        run = env.retrieve(handle.id)
        children = env.client.runs.list(parent_id=handle.id)
        tokens = env.tokens(status=None)

    assert run.status == "COMPLETED", run.error
    assert run.output == {"echo": echo, "results": [expected(op) for op in program]}
    for i, op in enumerate(program):
        if op["op"] == "step":
            assert executions[(handle.id, i)] == 1 + lost_steps[i], f"step {i} ran again"
    assert len(tokens) == sum(op["op"] == "token" for op in program)
    assert len(children) == sum(1 if op["op"] == "child" else len(op["items"])
                                for op in program if op["op"] in ("child", "batch"))
    assert all(c.status in ("COMPLETED", "FAILED") for c in children)
