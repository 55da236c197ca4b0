"""``outlast dev``: each reload is a new version, and runs in flight go on with it."""

from __future__ import annotations

from pathlib import Path

from outlast.engine import Engine
from outlast.engine import versions as registry
from outlast.store import Store
from tests.eventually import eventually
from tests.worker.support import running_worker, trigger, wait_final, wait_status

TASK = '''
from outlast import task, wait


@task(id="sleepy")
def sleepy(payload):
    wait.for_token(payload["token"])
    return "{answer}"
'''


def test_a_run_waiting_across_a_reload_goes_on_with_the_new_code(store: Store,
                                                                  tmp_path: Path) -> None:
    engine = Engine(store, lease_seconds=5)
    root = tmp_path / "app"
    (root / "tasks").mkdir(parents=True)
    source = root / "tasks" / "sleepy.py"
    source.write_text(TASK.format(answer="first"))
    token = engine.durable.new_token("dev", None, [], None)["id"]
    with running_worker(engine, root=root, probe="sleepy", dev=True) as sup:
        eventually(lambda: sup.version.code is not None, 30, "the first version")
        assert sup.version.code is not None
        first = sup.version.code.version
        run_id = trigger(engine, "sleepy", {"token": token})
        wait_status(engine, run_id, "WAITING")
        assert engine.retrieve("dev", run_id)["version"] == first
        source.write_text(TASK.format(answer="second"))
        sup.reload()
        eventually(lambda: sup.version.code is not None and sup.version.code.version != first,
                   30, "the reloaded version")
        assert sup.version.code is not None
        second = sup.version.code.version
        eventually(lambda: engine.retrieve("dev", run_id)["version"] == second, 30,
                   "the run to move to the new version")
        engine.durable.complete_token("dev", token, "go")
        done = wait_final(engine, run_id)
    assert (done["status"], done["output"]) == ("COMPLETED", "second")
    with engine.store.transaction(write=False) as tx:
        assert registry.current(tx, "dev") == second
        assert registry.state_of(tx, "dev", first) == "draining"
    kinds = [e["kind"] for e in engine.events(run_id)]
    assert "move_version" in kinds
