"""``outlast worker`` processes and the process tree under each one.

A worker is started in its own session, so everything it forks (the fork server,
and the children forked from the fork server) shares its session id even after the
supervisor is killed: that is how orphans are found and cleaned up. The tree is read
from ``/proc``: the fork server is the supervisor's child whose command line names
``forkserver`` or, forked from the starting ``outlast worker`` (its command line then the
worker's), whose kernel name is ``outlast-forksrv``; children are the fork server's
children.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from outlast.worker.forkserver import FORK_SERVER_NAME


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    session: int
    cmdline: str
    comm: str = ""


def processes() -> list[Proc]:
    """Every live process (zombies too; they show as state Z and are skipped)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z":
                continue
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            found.append(Proc(int(entry), int(fields[1]), int(fields[3]),
                              raw.replace(b"\0", b" ").decode(errors="replace"), comm))
    return found


@dataclass
class WorkerProc:
    """One ``outlast worker``; ``killed`` is set before the suite kills it on purpose."""

    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] = field(init=False)
    killed: bool = False
    stopped_until: float | None = None  # monotonic time of the SIGCONT when SIGSTOPped

    def __post_init__(self) -> None:
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork_server(self, table: list[Proc]) -> int | None:
        for p in table:
            if p.ppid == self.pid and ("forkserver" in p.cmdline
                                       or p.comm == FORK_SERVER_NAME):
                return p.pid
        return None

    def children(self, table: list[Proc]) -> list[int]:
        server = self.fork_server(table)
        return [p.pid for p in table if server is not None and p.ppid == server]

    def session_members(self, table: list[Proc]) -> list[int]:
        return [p.pid for p in table if p.session == self.pid]

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def kill_session(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)

    def stop(self, timeout: float) -> int | None:
        """SIGTERM (a deploy's stop) and wait; the exit code, None if it did not exit."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def failed_start(self) -> bool:
        """Exited before registering its tasks, with the command's "database error" line."""
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace")
            return "outlast.worker: registered " not in text and "error: database error" in text
        return False

    def tail(self, lines: int = 40) -> str:
        """The end of the worker's log without its INFO lines, so a traceback shows."""
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace").splitlines()
            return "\n".join([t for t in text if " INFO " not in t][-lines:])
        return ""


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """The pids still alive (not zombies) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        live = {p.pid for p in processes()}
        left = [pid for pid in pids if pid in live]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
