"""``metadata.parent``/``metadata.root`` and ``tags.add`` on a real worker (the
Supervisor on a thread, tasks in child processes), on both stores."""

from __future__ import annotations

from pathlib import Path

from outlast.engine import Engine
from outlast.store import Store
from tests.worker.support import running_worker, trigger, wait_final

PROJECT = Path(__file__).parent / "project"


def test_children_report_to_parent_and_root_through_a_worker(store: Store) -> None:
    engine = Engine(store, lease_seconds=5)
    with running_worker(engine, concurrency=3, root=PROJECT, probe="rl-root"):
        root_id = trigger(engine, "rl-root")
        root = wait_final(engine, root_id, 60)
    assert root["status"] == "COMPLETED", root["error"]
    assert root["output"] == 12
    assert root["tags"] == ["rollup"]
    assert root["metadata"]["groups"] == 2 and root["metadata"]["groups_done"] == 2
    assert sorted(root["metadata"]["seen"]) == [1, 2, 3]
    groups, _ = engine.list_runs("dev", parent_id=root_id)
    assert sorted(g["metadata"]["items_done"] for g in groups) == [1, 2]
    items, _ = engine.list_runs("dev", root_id=root_id, task="rl-item")
    assert sorted(tag for i in items for tag in i["tags"]) == ["item:1", "item:2", "item:3"]
    assert all(i["metadata"] == {"limit_error": True} for i in items)
    assert [r["id"] for r in engine.list_runs("dev", tag="item:3")[0]] == [
        i["id"] for i in items if i["payload"] == 3]
