"""Which runs a worker's claim takes, by version and task, on both stores and every path.

The matrix: a run pinned to the worker's version or to another one, or not pinned; the
worker's version current, draining or retired; its code having the run's task or not.
Each case is claimed through the one-statement claim (every queue, and named queues) and
through the counting path: the run's queue limited (``queue_candidates``), limited and the
run keyed (``key_heads``), or another queue limited (``other_candidates``).
"""

from __future__ import annotations

import itertools

import pytest

from outlast.engine import Engine, WorkerCode
from tests.conftest import definition, trigger_run
from tests.versions.support import execute, pin, pinned_to, register, set_state

MINE, THEIRS = "v-mine", "v-theirs"
PATHS = ["unlimited", "unlimited_in", "counted", "counted_keyed", "counted_other"]


def expected(pinned: str | None, state: str, has_task: bool, theirs_has: bool) -> bool:
    """The rule, written out: what a worker of ``MINE`` may take."""
    if not has_task:
        return False
    if pinned is not None:
        return pinned == MINE
    if state == "retired":
        return False
    return state == "current" or not theirs_has


CASES = list(itertools.product([MINE, THEIRS, None], ["current", "draining", "retired"],
                               [True, False], [True, False], PATHS))


@pytest.mark.parametrize(("pinned", "state", "has_task", "theirs_has", "path"), CASES)
def test_a_claim_takes_exactly_the_runs_its_code_may_run(
        engine: Engine, pinned: str | None, state: str, has_task: bool,
        theirs_has: bool, path: str) -> None:
    engine.register_tasks("dev", [definition("t"), definition("own")])  # triggerable
    register(engine, THEIRS, ["t"] if theirs_has else ["other"])
    register(engine, MINE, ["t", "own"] if has_task else ["own"], promote=True)
    if state != "current":
        register(engine, THEIRS, [], promote=True)  # theirs becomes current; mine drains
    if state == "retired":
        set_state(engine, MINE, "retired")
    if path.startswith("counted"):
        engine.queues.update("dev", "own" if path == "counted_other" else "t",
                             {"concurrency_limit": 5})
    key = {"concurrency_key": "k"} if path == "counted_keyed" else {}
    run_id = trigger_run(engine, "t", **key).row["id"]
    if pinned is not None:
        pin(engine, run_id, pinned)
    code = WorkerCode(MINE, ("t", "own") if has_task else ("own",))
    rows = engine.claim("dev", "w1", ["t"] if path == "unlimited_in" else None, 5, code)
    want = expected(pinned, state, has_task, theirs_has)
    assert [r["id"] for r in rows] == ([run_id] if want else [])
    if want:
        assert pinned_to(engine, run_id) == (pinned or MINE)  # the start pins it
        assert engine.retrieve("dev", run_id)["status"] == "EXECUTING"


def test_a_claim_with_no_code_takes_any_run_and_pins_none(engine: Engine) -> None:
    register(engine, MINE, ["t"])
    pinned = trigger_run(engine, "t").row["id"]
    pin(engine, pinned, THEIRS)
    free = trigger_run(engine, "t").row["id"]
    rows = engine.claim("dev", "w1", None, 5)
    assert sorted(r["id"] for r in rows) == sorted([pinned, free])
    assert {r["id"]: pinned_to(engine, r["id"]) for r in rows} == {pinned: THEIRS, free: None}


def test_with_no_current_version_every_worker_takes_its_own_tasks(
        engine: Engine) -> None:
    register(engine, MINE, ["t"], promote=False)
    run_id = trigger_run(engine, "t").row["id"]
    rows = engine.claim("dev", "w1", None, 5, WorkerCode(MINE, ("t",)))
    assert [r["id"] for r in rows] == [run_id]


def test_a_retried_run_goes_back_to_its_own_version(engine: Engine) -> None:
    """Pinned at its first start, a run's next attempt is for that version only."""
    from outlast.engine import Outcome

    register(engine, MINE, ["t"])
    run_id = trigger_run(engine, "t", max_attempts=3).row["id"]
    [row] = engine.claim("dev", "w1", None, 5, WorkerCode(MINE, ("t",)))
    engine.record([Outcome(run_id, row["lease_id"], row["attempt_count"], "failed",
                           error={"type": "Boom", "message": "x"})])
    register(engine, THEIRS, ["t"])  # a new version is current now
    engine.clock.advance(3600)  # type: ignore[attr-defined]
    assert engine.claim("dev", "w2", None, 5, WorkerCode(THEIRS, ("t",))) == []
    again = engine.claim("dev", "w1", None, 5, WorkerCode(MINE, ("t",)))
    assert [(r["id"], r["attempt_count"]) for r in again] == [(run_id, 2)]
    assert pinned_to(engine, run_id) == MINE


def test_hooks_are_claimed_only_for_the_tasks_a_worker_has(engine: Engine) -> None:
    register(engine, MINE, ["t", "u"])
    run_ids = [trigger_run(engine, task).row["id"] for task in ("t", "u")]
    for run_id in run_ids:
        execute(engine, f"UPDATE runs SET hook_pending = 'on_failure' WHERE id = '{run_id}'")
    assert [r["id"] for r in engine.claim_hooks("dev", None, 5, ["u"])] == [run_ids[1]]
    assert engine.claim_hooks("dev", None, 5, []) == []
