"""``patched``: a run recorded before a change keeps the old branch, a new run takes the
new one, and the answer holds for the whole attempt; on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from outlast import DurableUsageError, ValidationError, patched
from outlast.core.durable_requests import DurableRequest, Patch, ReadJournal
from outlast.sdk.durable import DurableRun, current_run
from outlast.sdk.registry import Registry
from outlast.testing import TestRuns
from tests.replay import versions


@pytest.fixture
def env(store_url: str) -> Iterator[TestRuns]:
    versions.executed.clear()
    with TestRuns(versions.v1, environment="dev", database_url=store_url) as runs:
        yield runs


def deploy(env: TestRuns, registry: Registry) -> None:
    """What a new worker does: serve the same task ids with new code."""
    env.registry = registry
    env.engine.register_tasks(env.environment, [t.definition() for t in registry.all()])


def approve(env: TestRuns, run_id: str) -> Any:
    [token] = env.tokens(run_id)
    env.complete_token(token["id"], {"approved": True})
    return env.run_until_final(run_id)


def shape(env: TestRuns, run_id: str) -> list[tuple[str, str]]:
    return [(e["kind"], e["name"]) for e in env.journal(run_id)]


def test_a_run_recorded_before_the_patch_keeps_the_old_branch(env: TestRuns) -> None:
    old = env.run("sms", {})
    assert old.status == "WAITING"
    deploy(env, versions.v2)
    versions.executed.clear()
    done = approve(env, old.id)
    assert done.status == "COMPLETED", done.error
    assert done.output == {"sent": "v1", "approved": True, "again": False}
    assert versions.executed == []  # its recorded steps replayed, none ran again
    assert ("patch", "sms-v2") not in shape(env, old.id)


def test_a_new_run_takes_the_new_branch_and_replays_it(env: TestRuns) -> None:
    deploy(env, versions.v2)
    new = env.run("sms", {})
    assert new.status == "WAITING"
    assert shape(env, new.id)[:3] == [("step", "prepare"), ("patch", "sms-v2"),
                                      ("step", "send-sms-v2")]
    [mark] = [e for e in env.journal(new.id) if e["kind"] == "patch"]
    assert mark["result"] is True
    versions.executed.clear()
    done = approve(env, new.id)  # the resume replays the patch entry: still the new branch
    assert done.output == {"sent": "v2", "approved": True, "again": True}
    assert versions.executed == []
    assert [kind for kind, _ in shape(env, new.id)].count("patch") == 1  # memoized


# -- without a store -----------------------------------------------------------------------


class Recorder:
    """A runtime over an in-memory journal: what was asked, and the journal as written."""

    def __init__(self, journal: list[dict[str, Any]] | None = None) -> None:
        self.journal = list(journal or [])
        self.asked: list[DurableRequest] = []

    def __call__(self, request: DurableRequest) -> Any:
        self.asked.append(request)
        if isinstance(request, ReadJournal):
            return self.journal
        assert isinstance(request, Patch), request
        at = request.at
        self.journal.append({"seq": at.seq, "kind": at.kind, "name": at.name,
                             "status": "ok", "result": True})
        return {"done": True, "result": True}


def inside(runtime: Recorder, *change_ids: str) -> list[bool]:
    run = DurableRun("run_1", "lease_1", 1, "dev", runtime)
    token = current_run.set(run)
    try:
        return [patched(c) for c in change_ids]
    finally:
        current_run.reset(token)


def entry(seq: int, kind: str, name: str) -> dict[str, Any]:
    return {"seq": seq, "kind": kind, "name": name, "status": "ok", "result": True}


@pytest.mark.parametrize(("journal", "answers", "written"), [
    ([], [True], [(0, "patch", "x")]),                           # a new execution
    ([entry(0, "patch", "x")], [True], []),                      # replayed: consumed
    ([entry(0, "step", "old")], [False], []),                    # recorded before it
    ([entry(0, "patch", "y")], [False], []),                     # another change's mark
    ([], [True, True], [(0, "patch", "x")]),                     # asked again: memoized
    ([entry(0, "step", "old")], [False, False], []),
])
def test_patched_at_the_journal_position(journal: list[dict[str, Any]], answers: list[bool],
                                         written: list[tuple[int, str, str]]) -> None:
    runtime = Recorder(journal)
    assert inside(runtime, *["x"] * len(answers)) == answers
    patches = [r.at for r in runtime.asked if isinstance(r, Patch)]
    assert [(at.seq, at.kind, at.name) for at in patches] == written


def test_two_changes_take_two_positions() -> None:
    runtime = Recorder()
    assert inside(runtime, "a", "b", "a") == [True, True, True]
    assert [(e["seq"], e["name"]) for e in runtime.journal] == [(0, "a"), (1, "b")]


def test_patched_outside_a_run_is_a_usage_error() -> None:
    with pytest.raises(DurableUsageError, match="inside a running task"):
        patched("send-sms-v2")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 201, None, 3])
def test_a_change_id_must_be_a_short_non_empty_string(bad: Any) -> None:
    with pytest.raises(ValidationError, match="change id"):
        patched(bad)
