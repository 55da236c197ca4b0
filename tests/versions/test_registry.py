"""The versions registry on both stores: registering, promotion rules, one current."""

from __future__ import annotations

from outlast.clock import FakeClock
from outlast.engine import Engine
from outlast.engine import versions as registry
from tests.conftest import definition


def register(engine: Engine, version: str, tasks: list[str], source: str = "worker",
             promote: bool | None = None) -> registry.Registered:
    with engine.store.transaction() as tx:
        return registry.register(tx, "dev", version, [definition(t) for t in tasks],
                                 source=source, now=engine.clock.now(), promote=promote)


def test_a_worker_of_new_code_makes_it_current_and_the_old_drains(
        engine: Engine, clock: FakeClock) -> None:
    assert register(engine, "v1", ["a"]).state == "current"
    clock.advance(1)
    second = register(engine, "v2", ["a", "b"])
    assert (second.state, second.current) == ("current", "v2")
    with engine.store.transaction(write=False) as tx:
        assert registry.state_of(tx, "dev", "v1") == "draining"
        assert registry.task_ids(tx, "dev", "v2") == ["a", "b"]
        assert registry.current(tx, "other-env") is None


def test_a_version_keeps_the_tasks_of_all_its_workers(engine: Engine) -> None:
    register(engine, "v1", ["a"])
    register(engine, "v1", ["b"])  # another worker whose file a.py failed to import
    with engine.store.transaction(write=False) as tx:
        assert registry.task_ids(tx, "dev", "v1") == ["a", "b"]


def test_once_deploys_manage_versions_a_stray_worker_does_not_take_over(
        engine: Engine) -> None:
    register(engine, "v1", ["a"], source="deploy")
    stray = register(engine, "v9", ["a"])
    assert (stray.state, stray.current) == ("draining", "v1")
    assert register(engine, "v2", ["a"], source="deploy").current == "v2"


def test_an_explicit_promotion_wins_over_the_rule(engine: Engine) -> None:
    register(engine, "v1", ["a"], source="deploy")
    assert register(engine, "v2", ["a"], promote=True).current == "v2"
    assert register(engine, "v3", ["a"], source="dev", promote=False).current == "v2"


def test_an_old_worker_restarting_does_not_take_current_back(engine: Engine) -> None:
    """During a rolling deploy an old worker may restart: v2 stays current."""
    register(engine, "v1", ["a"])
    register(engine, "v2", ["a"])
    again = register(engine, "v1", ["a"])
    assert (again.state, again.current) == ("draining", "v2")
    assert register(engine, "v1", ["a"], source="dev").current == "v1"  # a dev reload does
