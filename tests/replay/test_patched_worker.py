"""``patched`` on a real worker (children over the pipe), on both stores: the patch entry
is written by the supervisor like any durable write, and the resumed attempt, in another
child, replays it."""

from __future__ import annotations

from pathlib import Path

from outlast.engine import Engine
from outlast.store import Store
from tests.eventually import eventually
from tests.worker.support import running_worker, trigger, wait_final, wait_status

PROJECT = Path(__file__).parent / "project"


def test_a_run_marks_the_patch_and_keeps_the_new_branch_after_a_resume(store: Store) -> None:
    engine = Engine(store, lease_seconds=3)
    with running_worker(engine, root=PROJECT, probe="rp-patched"):
        run_id = trigger(engine, "rp-patched")
        wait_status(engine, run_id, "WAITING", 30)
        engine.durable.complete_token("dev", token_id(engine, run_id), {"ok": 1})
        run = wait_final(engine, run_id, 30)
    assert run["status"] == "COMPLETED", run.get("error")
    assert run["output"] == {"path": "new", "approved": True, "again": True}
    entries = engine.durable.run_journal(run_id)
    assert [(e["kind"], e["name"]) for e in entries][:3] == [
        ("step", "first"), ("patch", "rp-change"), ("step", "new-path")]
    assert [e["kind"] for e in entries].count("patch") == 1


def token_id(engine: Engine, run_id: str) -> str:
    def pending() -> str | None:
        tokens, _ = engine.durable.list_tokens("dev", run_id=run_id, status="PENDING")
        return str(tokens[0]["id"]) if tokens else None

    return str(eventually(pending, 30, f"the token of {run_id}"))
