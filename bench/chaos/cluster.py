"""A private PostgreSQL cluster the fault suite starts, restarts and removes itself.

Never the shared server: the cluster lives in a fresh directory, owned by the
``postgres`` OS user (initdb refuses to run as root, hence ``runuser`` when we are root),
listens on a free port on 127.0.0.1 and keeps its socket in its own directory.
``close`` stops it with ``-m immediate`` and deletes the directory, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="outlast-chaos-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.restarts = 0
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self._as_owner("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                       "--no-sync", "-E", "UTF8")
        self._start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *command: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def _options(self) -> str:
        # fsync off: the machine is shared and an OS crash is not one of our faults
        return (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c max_connections=200")

    def _start(self) -> None:
        self._as_owner("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o",
                       self._options(), "-w", "-t", "60", "start")

    def restart(self, mode: str) -> None:
        """``pg_ctl restart -m fast|immediate``: every connection is cut."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o",
                       self._options(), "-m", mode, "-w", "-t", "60", "restart")
        self.restarts += 1

    def outage(self, seconds: float) -> None:
        """Down for ``seconds`` (``-m immediate``, a crash), then up again."""
        self._as_owner("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        time.sleep(seconds)
        self._start()
        self.restarts += 1

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._as_owner("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop",
                           timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
