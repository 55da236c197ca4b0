"""One task file that fails to import stops only its own tasks, and says so everywhere.

The worker keeps running the tasks of the files that imported, records each failed file
on its row (the Workers page reads it), and a run or a trigger of a task that is missing
because of it names the file and the error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from outlast.core.definitions import TaskDefinition
from outlast.core.import_failures import no_worker_has
from outlast.engine import Engine
from outlast.errors import TaskNotFoundError
from outlast.jsonutil import loads
from outlast.sdk.registry import default_registry, import_task_files
from outlast.store import Store
from tests.conftest import definition
from tests.worker.support import running_worker, trigger, wait_final

GOOD = '''
from outlast import task

@task(id="still-works")
def still_works(payload):
    return "fine"
'''

BROKEN = '''
from outlast import task

@task(id="was-broken")
def was_broken(payload:
    return 1
'''

HALF = '''
from outlast import task

@task(id="half-defined")
def half(payload):
    return 1

raise RuntimeError("no config for this module")
'''


def project(root: Path, package: str) -> Path:
    """A project whose task directory has a good, a broken and a half-run file."""
    tasks = root / package
    tasks.mkdir(parents=True)
    (tasks / "good.py").write_text(GOOD)
    (tasks / "broken.py").write_text(BROKEN)
    (tasks / "half.py").write_text(HALF)
    return root


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = default_registry.snapshot()
    modules = set(sys.modules)
    yield
    default_registry.restore(before)
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def test_each_file_imports_on_its_own(tmp_path: Path, clean_registry: None) -> None:
    failures = import_task_files(["jobs_each"], project(tmp_path, "jobs_each"))
    assert sorted(failures) == ["jobs_each/broken.py", "jobs_each/half.py"]
    assert failures["jobs_each/broken.py"]["error"].startswith("SyntaxError: ")
    assert "broken.py, line 5" in failures["jobs_each/broken.py"]["error"]
    assert failures["jobs_each/half.py"]["error"] == (
        "RuntimeError: no config for this module (half.py, line 8)")
    assert "Traceback" in failures["jobs_each/half.py"]["traceback"]
    assert failures["jobs_each/broken.py"]["names"] == "was-broken was_broken"
    assert "still-works" in default_registry
    assert "half-defined" not in default_registry  # a half-run module serves nothing


def test_the_missing_task_message_names_the_file() -> None:
    failures = {"tasks/x.py": {"error": "SyntaxError: bad (x.py, line 3)", "traceback": ""}}
    assert no_worker_has("x", failures) == (
        "no worker has task 'x': tasks/x.py failed to import: SyntaxError: bad (x.py, line 3)")


def test_the_missing_task_message_names_the_file_that_mentions_it() -> None:
    failures = {"tasks/a.py": {"error": "E: a", "names": "send-mail send_mail"},
                "tasks/b.py": {"error": "E: b", "names": "resize_image"}}
    assert no_worker_has("send-mail", failures) == (
        "no worker has task 'send-mail': tasks/a.py failed to import: E: a")
    assert no_worker_has("resize-image", failures).endswith("tasks/b.py failed to import: E: b")
    assert no_worker_has("other", failures).count("failed to import") == 2


@pytest.fixture
def live_engine(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("OUTLAST_TEST_OUT", str(tmp_path))
    return Engine(store, lease_seconds=3)


def test_a_broken_file_stops_only_its_tasks(live_engine: Engine, tmp_path: Path) -> None:
    root = project(tmp_path / "app", "tasks")
    with running_worker(live_engine, root=root, probe="still-works",
                        exit_on_import_error=False) as worker:
        # the task was registered by an earlier version of the code that imported
        live_engine.register_tasks("dev", [definition("was-broken")])
        missing_id = trigger(live_engine, "was-broken")
        # claimed after the other run was queued: a worker without its task leaves it
        fine = wait_final(live_engine, trigger(live_engine, "still-works"))
        missing = live_engine.retrieve("dev", missing_id)
        rows = live_engine.list_workers("dev")
        with pytest.raises(TaskNotFoundError) as never:
            live_engine.definition("dev", "never-registered")
        assert worker.tasks_registered
    assert (fine["status"], fine["output"]) == ("COMPLETED", "fine")
    # no worker has its task: it waits for one (a fixed deploy) instead of failing
    assert (missing["status"], missing["attempts"]) == ("QUEUED", 0)
    assert missing["waiting_for"].startswith(
        "a worker with task 'was-broken' (tasks/broken.py failed to import: SyntaxError")
    failed = loads(rows[0]["import_errors"])
    assert sorted(failed) == ["tasks/broken.py", "tasks/half.py"]
    assert "tasks/broken.py failed to import: SyntaxError" in str(never.value)


def test_a_worker_without_reload_still_stops_on_an_import_error(
        live_engine: Engine, tmp_path: Path) -> None:
    """``outlast worker`` (a deploy) fails loudly instead of serving part of the code."""
    from outlast.errors import ConfigError
    from outlast.worker.supervisor import Supervisor

    root = project(tmp_path / "app", "tasks")
    sup = Supervisor(live_engine, environment="dev", task_dirs=["tasks"], root=root,
                     concurrency=1)
    with pytest.raises(ConfigError, match="failed to import"):
        sup.run()


def test_a_file_that_failed_to_import_keeps_its_schedules(engine: Engine) -> None:
    """Its tasks are not gone from the code, so their declared schedules stay active."""
    nightly = TaskDefinition(id="nightly", queue="nightly", schedule={"cron": "0 3 * * *"})
    engine.register_tasks("dev", [nightly, TaskDefinition(id="other", queue="other")])
    engine.register_tasks("dev", [TaskDefinition(id="other", queue="other")], complete=False)
    [schedule] = engine.schedules.list("dev")[0]
    assert (schedule["task"], schedule["active"]) == ("nightly", True)
    engine.register_tasks("dev", [TaskDefinition(id="other", queue="other")])
    assert not engine.schedules.list("dev")[0][0]["active"]  # really removed from the code
