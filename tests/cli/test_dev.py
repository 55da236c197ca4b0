"""The parts of ``outlast dev`` that decide things before anything starts serving."""

from __future__ import annotations

import shutil
import socket
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from outlast.cli.devenv import (
    DevLock,
    dev_api_key,
    make_database_private,
    prepare_state_dir,
    write_dev_env,
)
from outlast.cli.devsession import StateFiles, worker_ready_reason
from outlast.cli.serving import bind_socket, public_url
from outlast.config import Config
from outlast.engine import Engine
from outlast.errors import ConfigError
from outlast.sdk.client import read_env_file


def test_dev_key_is_reused_while_the_database_accepts_it(engine: Engine, tmp_path: Path) -> None:
    env_file = tmp_path / ".outlast" / "dev.env"
    first = dev_api_key(engine, env_file)
    write_dev_env(env_file, "http://127.0.0.1:8030", first)
    assert dev_api_key(engine, env_file) == first
    write_dev_env(env_file, "http://127.0.0.1:8030", "ol_dev_unknown")
    assert dev_api_key(engine, env_file) not in (first, "ol_dev_unknown")


def test_a_key_of_another_environment_is_not_reused(engine: Engine, tmp_path: Path) -> None:
    env_file = tmp_path / "dev.env"
    write_dev_env(env_file, "http://x", engine.create_api_key("prod"))
    assert dev_api_key(engine, env_file).startswith("ol_dev_")


def test_dev_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".outlast" / "dev.env"
    write_dev_env(env_file, "http://127.0.0.1:8031", "ol_dev_abc")
    assert read_env_file(env_file) == {"OUTLAST_API_URL": "http://127.0.0.1:8031",
                                       "OUTLAST_API_KEY": "ol_dev_abc"}
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert (tmp_path / ".outlast" / ".gitignore").read_text().endswith("*\n")


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8030"),
    ("0.0.0.0", "http://127.0.0.1:8030"),
    ("::", "http://[::1]:8030"),
    ("localhost", "http://localhost:8030"),
])
def test_public_url(host: str, url: str) -> None:
    assert public_url(host, 8030) == url


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            bind_socket("127.0.0.1", port)


def test_dev_needs_a_project(project: Path, outlast) -> None:
    result = outlast("dev")
    assert result.exit_code == 1
    assert "run `outlast init` first" in result.stderr


def test_dev_needs_the_task_directories(project: Path, outlast) -> None:
    (project / "outlast.toml").write_text('dirs = ["jobs"]\n')
    result = outlast("dev", "--port", "0")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: task directory 'jobs' not found under")
    assert not (project / ".outlast").exists()


def test_worker_needs_the_task_directories(project: Path, outlast) -> None:
    result = outlast("worker", "--env", "prod")
    assert result.exit_code == 1
    assert "task directory 'tasks' not found" in result.stderr


def test_the_state_directory_and_database_are_private(tmp_path: Path) -> None:
    state = tmp_path / ".outlast"
    prepare_state_dir(state)
    make_database_private(f"sqlite:///{state / 'dev.db'}", state)
    write_dev_env(state / "dev.env", "http://127.0.0.1:8030", "ol_dev_abc")
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "dev.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "dev.env").stat().st_mode) == 0o600


def test_a_world_readable_dev_database_is_made_private(tmp_path: Path) -> None:
    state = tmp_path / ".outlast"
    state.mkdir(mode=0o755)
    (state / "dev.db").touch(mode=0o644)
    (state / "dev.db-wal").touch(mode=0o644)
    prepare_state_dir(state)
    make_database_private(f"sqlite:///{state / 'dev.db'}", state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "dev.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "dev.db-wal").stat().st_mode) == 0o600


def test_a_second_dev_server_for_the_project_is_refused(tmp_path: Path) -> None:
    first, second = DevLock(tmp_path), DevLock(tmp_path)
    first.acquire()
    first.record("http://127.0.0.1:8031")
    with pytest.raises(ConfigError, match=r"already runs for this project \(at "
                                          r"http://127.0.0.1:8031, pid \d+\)"):
        second.acquire()
    first.release()
    second.acquire()  # the first one stopped: the project is free again
    second.release()


def test_state_files_notice_a_deleted_database_and_dev_env(tmp_path: Path) -> None:
    config = Config("app", tmp_path, database_url=f"sqlite:///{tmp_path}/.outlast/dev.db")
    prepare_state_dir(config.state_dir())
    make_database_private(config.database_url, config.state_dir())
    write_dev_env(config.state_dir() / "dev.env", "http://x", "ol_dev_abc")
    files = StateFiles(config)
    assert files.database_lost() is None and not files.env_lost()
    (config.state_dir() / "dev.env").unlink()
    assert files.env_lost() and not files.env_lost()  # said once
    shutil.rmtree(config.state_dir())
    assert "was deleted while `outlast dev` ran" in (files.database_lost() or "")


def test_ready_once_the_worker_registered_its_tasks() -> None:
    worker = SimpleNamespace(tasks_registered=False, import_error=None)
    assert worker_ready_reason(worker) == "the worker has not registered its tasks yet"
    worker.import_error = "Traceback ...\nConfigError: bad defaults\n"
    assert worker_ready_reason(worker) == (
        "the worker could not import the task modules: Traceback ...\nConfigError: bad defaults")
    worker.tasks_registered = True
    assert worker_ready_reason(worker) is None
