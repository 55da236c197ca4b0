"""A worker starts without loading what it does not use.

A worker's start is the time to its first run; every deploy and every ``outlast dev``
reload waits for it. The supervisor claims runs and writes results: it needs the engine
and the store, not the SDK's HTTP client, pydantic or rich (those load when a task uses
them). Its children need nothing from the program that started the worker, so they are
not made to run its main script again.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.worker import forkserver
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually
from tests.worker.support import PROJECT

#: what the supervisor does not load (``outlast.sdk`` brings the client, httpx and pydantic)
NOT_FOR_THE_SUPERVISOR = ("httpx", "pydantic", "rich", "outlast.sdk", "outlast.api")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_the_supervisor_loads_no_http_client_pydantic_or_rich() -> None:
    loaded = loaded_after("import outlast.worker.supervisor, outlast.engine, outlast.store")
    assert "outlast.engine" in loaded  # the probe sees what it should
    assert sorted(m for m in NOT_FOR_THE_SUPERVISOR if m in loaded) == []


#: what a supervisor uses only when asked (an HTTP server for ``--metrics-port``,
#: OpenTelemetry for a child run's trace context) or never (the operator's parts of the
#: engine: listing runs, traces, pruning, bulk actions, version admin); upkeep loads
#: while its children start
NOT_ON_THE_WORKER_PATH = ("http.server", "opentelemetry", "outlast.observability",
                          "outlast.engine.listing", "outlast.engine.trace",
                          "outlast.engine.version_admin", "outlast.engine.trigger_groups",
                          "outlast.engine.realtime", "outlast.engine.metadata",
                          "outlast.engine.durable_ops", "outlast.worker.metrics_server",
                          "outlast.upkeep")


def test_the_supervisor_loads_only_what_its_path_uses() -> None:
    loaded = loaded_after("import outlast.worker.supervisor, outlast.engine, outlast.store")
    assert sorted(m for m in NOT_ON_THE_WORKER_PATH if m in loaded) == []


def test_the_engine_loads_its_operator_parts_on_first_use(tmp_path: Path) -> None:
    loaded = loaded_after(
        "from outlast.engine import Engine; from outlast.store import open_store; "
        f"e = Engine(open_store('sqlite:///{tmp_path}/db.sqlite')); e.store.migrate(); "
        "e.list_runs('dev'); e.bulk; e.retention; e.errors; e.tags; "
        "e.realtime; e.metadata; e.durable; e.parking; e.list_versions('dev')")
    assert {"outlast.engine.listing", "outlast.engine.bulk", "outlast.engine.pruning",
            "outlast.engine.realtime", "outlast.engine.version_admin"} <= loaded


def test_outlast_worker_reaches_its_fork_server_before_the_engine() -> None:
    """``outlast worker`` starts its fork server first thing (``forkserver.warm``), so its
    imports overlap the supervisor's: the command's module loads neither the engine, the
    store nor the project's config, nor uvicorn (a worker serves no HTTP), before it runs."""
    loaded = loaded_after("import outlast.cli.main, outlast.cli.worker")
    assert "outlast.cli.worker" in loaded  # the probe sees what it should
    assert sorted(m for m in ("outlast.engine", "outlast.store", "outlast.config", "psycopg",
                              "uvicorn") if m in loaded) == []


def test_children_and_task_modules_load_no_http_client() -> None:
    """The fork server loads what children need once; a task module that only defines
    tasks (``from outlast import task``) adds no HTTP client to it."""
    loaded = loaded_after("import outlast.worker.child; from outlast import task, step, wait")
    assert "outlast.sdk.client" in loaded  # the probe sees what it should
    assert sorted(m for m in ("httpx", "rich") if m in loaded) == []


def test_the_fork_server_loads_no_pydantic() -> None:
    """What children need loads no pydantic, nor does a task whose payload is untyped:
    ``ScheduledPayload`` (and with it pydantic's models and its plugins' entry points)
    loads when first asked for, a typed payload is told apart from an untyped one without
    pydantic, and the request bodies' schemas (``core.params``) are annotations pydantic
    reads only when the server builds its document."""
    loaded = loaded_after(
        "import outlast.worker.child; from outlast import task, step, wait; "
        "plain = lambda payload: None; plain.__annotations__['payload'] = object; "
        "task(id='plain')(plain)")
    assert "outlast.sdk.schedule_records" in loaded  # the probe sees what it should
    assert sorted(m for m in ("outlast.sdk.scheduled_payload", "pydantic", "pydantic.main",
                              "importlib.metadata") if m in loaded) == []
    payload = loaded_after("from outlast.sdk.schedule_records import ScheduledPayload")
    assert "outlast.sdk.scheduled_payload" in payload


def test_the_public_api_still_loads_on_use() -> None:
    loaded = loaded_after("from outlast import Client, task, schedules; "
                          "Client(url='http://127.0.0.1:9').close()")
    assert {"outlast.sdk.client", "outlast.sdk.task", "outlast.sdk.schedules_facade",
            "httpx"} <= loaded


MAIN_SCRIPT = """
import os, sys
with open(sys.argv[1], "a") as f:
    f.write(__name__ + "\\n")
if __name__ == "__main__":
    from outlast.worker import forkserver
    for name in (forkserver.CHILD_NAME, "another-process"):
        p = forkserver.CONTEXT.Process(target=os.getpid, name=name)
        p.start()
        p.join()
        with open(sys.argv[1], "a") as f:
            f.write("started " + name + "\\n")
"""


def test_a_child_does_not_run_the_main_script_again(tmp_path: Path) -> None:
    script, runs = tmp_path / "main_script.py", tmp_path / "runs.txt"
    script.write_text(MAIN_SCRIPT)
    subprocess.run([sys.executable, str(script), str(runs)], check=True, timeout=60)
    # a worker's child starts without it; any other process of the fork server (the
    # probe) runs it again as ``__mp_main__``, as ``multiprocessing`` does
    assert runs.read_text().split("\n") == [
        "__main__", "started outlast-child", "__mp_main__", "started another-process", ""]


def test_the_first_children_start_while_the_worker_registers(engine: Engine) -> None:
    """The first children are started (and import the task modules) during the
    supervisor's first round trips; when one of those fails, they are stopped with it."""
    sup = Supervisor(engine, environment="dev", task_dirs=["tasks"], root=PROJECT,
                     concurrency=2)
    seen: list[int] = []

    def register_worker(*_args: Any) -> None:
        processes = [p for p in multiprocessing.active_children()
                     if p.name == forkserver.CHILD_NAME]
        eventually(lambda: len(processes) == 2 or processes.extend(
            p for p in multiprocessing.active_children()
            if p.name == forkserver.CHILD_NAME and p not in processes), 30, "two children")
        seen.extend(p.pid or 0 for p in processes)
        raise RuntimeError("the database went away")

    engine.register_worker = register_worker  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="went away"):
        sup.run()
    assert len(seen) == 2  # both were started before registering finished
    assert not [p for p in multiprocessing.active_children()
                if p.name == forkserver.CHILD_NAME]  # and stopped with the failure


def test_what_is_loaded_before_the_fork_server_is_forked_is_loaded_by_both_sides() -> None:
    """``forkserver.SHARED`` is imported by a starting worker before it forks its fork
    server: the supervisor (whatever its store) and the children load all of it anyway."""
    supervisor = loaded_after("from outlast.engine import Engine; "
                              "from outlast.worker.supervisor import Supervisor; "
                              "import outlast.store.sqlite.store")
    child = loaded_after("import outlast.worker.child")
    assert sorted(set(forkserver.SHARED) - supervisor) == []
    assert sorted(set(forkserver.SHARED) - child) == []
