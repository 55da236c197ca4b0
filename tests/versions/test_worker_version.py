"""A worker's version: given, or the hash of its code; registered with its tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from outlast.engine import Engine
from outlast.engine import versions as registry
from outlast.store import Store
from outlast.worker.code_identity import project_files
from tests.conftest import trigger_run
from tests.eventually import eventually
from tests.versions.test_rolling_deploy import PROJECTS
from tests.worker.support import running_worker, wait_final


def test_a_given_version_is_registered_current_and_recorded_on_the_worker(
        store: Store) -> None:
    engine = Engine(store, lease_seconds=5)
    with running_worker(engine, root=PROJECTS / "v1", probe="a",
                        version="release-7") as sup:
        done = wait_final(engine, trigger_run(engine, "a").row["id"])
        [row] = engine.list_workers("dev")
    assert sup.version.code is not None and sup.version.code.version == "release-7"
    assert (done["output"], done["version"]) == ("v1", "release-7")
    assert row["code_version"] == "release-7"
    with engine.store.transaction(write=False) as tx:
        assert registry.current(tx, "dev") == "release-7"
        assert registry.task_ids(tx, "dev", "release-7") == ["a", "waits"]


def test_a_worker_not_of_the_current_version_says_so(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    engine = Engine(store, lease_seconds=5)

    def start_and_stop(version: str) -> None:
        with running_worker(engine, root=PROJECTS / "v1", probe="a", version=version) as sup:
            eventually(lambda: sup.version.code is not None, 30, f"{version} registered")

    start_and_stop("old")
    start_and_stop("new")
    caplog.clear()
    start_and_stop("old")  # an old worker restarting: it does not take over
    assert "version old is draining; it takes only runs pinned to it and tasks the current " \
           "version new lacks; promote it with `outlast versions promote old`" in caplog.text


def test_the_code_version_covers_the_project_files_it_loaded(tmp_path: Path) -> None:
    """Outlast itself, installed packages and a virtualenv inside the project are not
    the project's code; the project's modules are, by path."""
    import types

    root = tmp_path / "app"
    (root / "tasks").mkdir(parents=True)
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "lib" / "site-packages").mkdir(parents=True)
    files = {"tasks/t.py": b"x = 1\n", ".venv/lib/dep.py": b"y\n",
             "lib/site-packages/pkg.py": b"z\n"}
    modules = []
    for name, content in files.items():
        (root / name).write_bytes(content)
        module = types.ModuleType(name)
        module.__file__ = str(root / name)
        modules.append(module)
    outside = types.ModuleType("elsewhere")
    outside.__file__ = str(tmp_path / "elsewhere.py")
    sibling = types.ModuleType("sibling")  # a folder whose name starts as the project's
    (tmp_path / "app2").mkdir()
    (tmp_path / "app2" / "s.py").write_bytes(b"s\n")
    sibling.__file__ = str(tmp_path / "app2" / "s.py")
    builtin = types.ModuleType("builtin")  # no file at all
    import outlast
    assert project_files(root, [*modules, outside, sibling, builtin, outlast]) == [
        ("tasks/t.py", b"x = 1\n")]


def test_a_module_file_resolves_through_links_as_the_path_would(tmp_path: Path) -> None:
    """Files are resolved folder by folder (once each); a linked folder or a file that is
    itself a link resolves to where it leads."""
    from outlast.worker.code_identity import _resolved

    real = tmp_path / "real"
    real.mkdir()
    (real / "a.py").write_text("a = 1\n")
    (tmp_path / "elsewhere.py").write_text("b = 1\n")
    (real / "b.py").symlink_to(tmp_path / "elsewhere.py")
    (tmp_path / "linked").symlink_to(real)
    names = [real / "a.py", tmp_path / "linked" / "a.py", real / "b.py",
             tmp_path / "linked" / "b.py", tmp_path / "linked" / ".." / "elsewhere.py",
             tmp_path / "linked" / "missing.py"]
    assert [_resolved(str(name)) for name in names] == [name.resolve() for name in names]
    assert _resolved(str(real / "b.py")) == tmp_path.resolve() / "elsewhere.py"
