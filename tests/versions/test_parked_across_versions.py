"""A run broken by a deploy parks, is moved to a fixed release, and finishes without
repeating the steps it had finished: with real workers of three releases, on both stores.

Release 1 charges, waits for approval and ships. Release 2 renamed the charge step: a run
recorded on release 1 and moved to release 2 no longer matches its history. Release 3
keeps the rename behind ``patched``.
"""

from __future__ import annotations

from pathlib import Path

from outlast.store import Store
from tests.versions.test_rolling_deploy import live_engine, release
from tests.worker.support import trigger, wait_final, wait_status


def orders(name: str) -> str:
    return f"orders_{name}"


def test_a_parked_run_moved_to_a_fixed_release_finishes_without_repeating_steps(
        store: Store, tmp_path: Path) -> None:
    engine = live_engine(store)
    log = tmp_path / "effects.log"
    token = engine.durable.new_token("dev", None, [], None)["id"]
    with release(engine, orders("v1"), probe="order") as v1:
        assert v1.version.code is not None
        run_id = trigger(engine, "order", {"log": str(log), "token": token})
        wait_status(engine, run_id, "WAITING")
    attempts = engine.retrieve("dev", run_id)["attempts"]

    with release(engine, orders("v2"), probe="order") as v2:
        assert v2.version.code is not None
        engine.parking.move("dev", run_id, v2.version.code.version)  # e.g. to retire v1
        engine.durable.complete_token("dev", token, {"approved": True})
        wait_status(engine, run_id, "PARKED")
    parked = engine.retrieve("dev", run_id)
    assert parked["attempts"] == attempts  # parking spends no attempt
    assert (parked["parked"]["recorded"]["name"], parked["parked"]["called"]["name"]) == \
        ("charge", "charge-card")

    with release(engine, orders("v3"), probe="order") as v3:
        assert v3.version.code is not None
        engine.parking.resume("dev", run_id, version=v3.version.code.version)
        done = wait_final(engine, run_id)
        fresh = trigger(engine, "order", {"log": str(tmp_path / "new.log"), "token": token})
        fresh_done = wait_final(engine, fresh)
    assert (done["status"], done["output"]) == ("COMPLETED", "shipped by release 3")
    assert log.read_text().split() == ["charge", "ship"]  # charged once, on release 1
    assert done["version"] == v3.version.code.version
    # a new run takes the new branch (the token is completed already: no wait)
    assert fresh_done["status"] == "COMPLETED"
    assert [e["name"] for e in engine.durable.run_journal(fresh)][:2] == \
        ["rename-charge", "charge-card"]


