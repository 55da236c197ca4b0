"""``.outlast/``: the private state of ``outlast dev`` and how clients find it.

``dev.env`` tells clients started in the project where the server is. The dev API key is
kept across restarts (when the database still accepts it), so a shell or notebook that
read the file before a restart keeps working after it. The directory, the database and
``dev.env`` are the owner's only: the file holds a key and the database every payload.
``dev.lock`` is held for as long as one ``outlast dev`` serves the project, so a second
one refuses to start instead of taking ``dev.env`` over.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import IO

from outlast.engine import Engine
from outlast.errors import ConfigError
from outlast.sdk.client import read_env_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock: no second-server check
    fcntl = None  # type: ignore[assignment]

DEV_ENVIRONMENT = "dev"

_HEADER = ("# Written by `outlast dev` on every start. Clients started in this project read it\n"
           "# when OUTLAST_API_URL is not set. Keep it out of version control.\n")


def prepare_state_dir(state_dir: Path) -> None:
    """Create ``.outlast/`` (owner only) with a ``.gitignore`` that ignores all of it."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)  # also one made by an older version with the umask's mode
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Local state of `outlast dev`: database and dev API key.\n*\n")


def make_database_private(database_url: str, state_dir: Path) -> None:
    """A SQLite database ``outlast dev`` creates is readable by its owner only.

    SQLite gives its ``-wal`` and ``-shm`` files the mode of the database file, so creating
    the file empty with 0600 before SQLite opens it is enough. A database inside
    ``.outlast/`` made world-readable by an older version is fixed too; one elsewhere that
    already exists is the user's and keeps its mode.
    """
    if not database_url.startswith("sqlite:///") or database_url.endswith(":memory:"):
        return
    path = Path(database_url.removeprefix("sqlite:///"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    elif path.resolve().parent == state_dir.resolve():
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(part, 0o600)


def dev_api_key(engine: Engine, env_file: Path) -> str:
    """The key from a previous run if the database still accepts it, else a new one."""
    if env_file.is_file():
        key = read_env_file(env_file).get("OUTLAST_API_KEY")
        if key and engine.authenticate(key) == DEV_ENVIRONMENT:
            return key
    return engine.create_api_key(DEV_ENVIRONMENT)


def write_dev_env(env_file: Path, url: str, api_key: str) -> None:
    """Write the file atomically and readable by its owner only (it holds a secret)."""
    prepare_state_dir(env_file.parent)
    tmp = env_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{_HEADER}OUTLAST_API_URL={url}\nOUTLAST_API_KEY={api_key}\n")
    os.replace(tmp, env_file)


class DevLock:
    """``.outlast/dev.lock``: held by the one ``outlast dev`` serving the project.

    An ``flock`` ends with its process (even on ``kill -9``), so a crashed server never
    leaves a stale lock behind. The file says where the holder serves, for the refusal.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "dev.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock; ConfigError naming the running server when another holds it."""
        fh = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the process
        os.chmod(self.path, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "an unknown address"
                fh.close()
                raise ConfigError(
                    f"`outlast dev` already runs for this project ({holder}); stop it "
                    "first, or use it: commands in this project reach it through "
                    ".outlast/dev.env") from None
        self._file = fh

    def record(self, url: str) -> None:
        """Say where this server listens, for a second ``outlast dev`` to tell the user."""
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            self._file.write(f"at {url}, pid {os.getpid()}\n")
            self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
