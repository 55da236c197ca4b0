"""Versions as an operator sees them, on both stores: pinned runs, drained, retire rules."""

from __future__ import annotations

import pytest

from outlast.clock import FakeClock
from outlast.engine import Engine
from outlast.engine.version_admin import blockers
from outlast.errors import ConflictError, NotFoundError, ValidationError
from tests.conftest import trigger_run
from tests.versions.support import add_version, live_worker, pin


def _pinned_run(engine: Engine, version: str, **options: object) -> str:
    run_id = str(trigger_run(engine, "a", **options).row["id"])
    pin(engine, run_id, version)
    return run_id


def test_a_version_is_drained_once_not_current_and_no_pinned_run_is_unfinished(
        engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["a"])
    assert not engine.drained("dev", "v1")  # current: new runs go to it
    waiting = _pinned_run(engine, "v1", delay="1h")
    clock.advance(1)
    add_version(engine, "v2", ["a"])
    assert not engine.drained("dev", "v1")  # a DELAYED run needs a worker of v1
    assert engine.drained("other", "v1")  # versions are per environment
    engine.cancel("dev", waiting)
    assert engine.drained("dev", "v1")
    assert not engine.drained("dev", "v2")
    assert engine.drained("dev", "never-seen")  # nothing can be pinned to it


def test_pinned_runs_are_counted_by_status_and_final_ones_not_at_all(
        engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["a"])
    _pinned_run(engine, "v1")
    _pinned_run(engine, "v1")
    _pinned_run(engine, "v1", delay="1h")
    engine.cancel("dev", _pinned_run(engine, "v1"))
    trigger_run(engine, "a")  # not pinned: no version's business yet
    clock.advance(1)
    add_version(engine, "v2", ["a"])
    live_worker(engine, "w2", "v2")
    by_version = {v["version"]: v for v in engine.list_versions("dev")}
    assert by_version["v1"]["pinned_runs"] == {"DELAYED": 1, "QUEUED": 2}
    assert (by_version["v1"]["live_workers"], by_version["v2"]["live_workers"]) == (0, 1)
    assert by_version["v2"]["pinned_runs"] == {}


def test_a_worker_gone_quiet_is_not_live(engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["a"])
    live_worker(engine, "w1", "v1")
    clock.advance(61)  # the Workers page's rule: a heartbeat within the last minute
    assert engine.get_version("dev", "v1")["workers"] == []
    live_worker(engine, "w2", "v1")
    engine.stop_worker("w2")
    assert engine.list_versions("dev")[0]["live_workers"] == 0


def test_retire_and_promote_rules(engine: Engine, clock: FakeClock) -> None:
    add_version(engine, "v1", ["a"])
    run_id = _pinned_run(engine, "v1")
    with pytest.raises(ConflictError, match="v1 is current"):
        engine.retire("dev", "v1")
    clock.advance(1)
    add_version(engine, "v2", ["a"])
    with pytest.raises(ConflictError, match=r"1 unfinished run pinned to it \(1 QUEUED\)"):
        engine.retire("dev", "v1")
    engine.cancel("dev", run_id)
    assert engine.retire("dev", "v1")["state"] == "retired"
    assert engine.retire("dev", "v1")["state"] == "retired"  # again: nothing changes
    assert engine.drained("dev", "v1")
    assert engine.promote("dev", "v1")["state"] == "current"
    assert engine.get_version("dev", "v2")["state"] == "draining"
    with pytest.raises(NotFoundError):
        engine.promote("dev", "v3")
    with pytest.raises(ValidationError, match="not a version name"):
        engine.retire("dev", "v 1")


def test_what_blocks_a_retire_is_said_with_the_way_out() -> None:
    assert blockers("v1", "draining", {}) is None
    assert blockers("v1", "retired", {}) is None
    many = blockers("v1", "draining", {"WAITING": 2, "QUEUED": 1})
    assert many == ("version v1 still has 3 unfinished runs pinned to it (1 QUEUED, "
                    "2 WAITING); wait for them to finish, or move them to another version "
                    "(outlast runs move ID --version V)")
    assert "promote another version first" in str(blockers("v1", "current", {})).lower()
