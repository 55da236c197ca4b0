"""The faults, each applied to a random target chosen with the suite's seeded ``Random``.

Kinds come as a shuffled deck, every kind once per round, so even a short run applies
each of them; one that finds no target (no child forked yet) is tried again next.

- ``supervisor``: ``kill -9`` one worker's supervisor process (only it: its fork server and
  children are orphaned, as when the OOM killer picks the supervisor); a new worker
  starts in its place.
- ``child``: ``kill -9`` one child process of a worker (busy or idle).
- ``forkserver``: ``kill -9`` a worker's fork server, then one of its children, so the
  supervisor must fork a replacement without its fork server.
- ``stop``: ``SIGSTOP`` a supervisor for twice the lease and a second more, then
  ``SIGCONT``: its leases expire and its runs are recovered elsewhere meanwhile.
- ``pg-restart``: restart the private PostgreSQL cluster (``-m fast`` or ``-m immediate``),
  or stop it with ``-m immediate`` and start it 3 s later.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from bench.chaos.cluster import PrivatePostgres
from bench.chaos.procs import WorkerProc, processes

FAULTS = ("supervisor", "child", "forkserver", "stop", "pg-restart")


class Fleet(Protocol):
    def live(self) -> list[WorkerProc]: ...
    def replace(self, worker: WorkerProc) -> None: ...


class Faults:
    def __init__(self, rng: random.Random, fleet: Fleet, lease: float,
                 cluster: PrivatePostgres | None, enabled: list[str]) -> None:
        self.rng = rng
        self.fleet = fleet
        self.lease = lease
        self.cluster = cluster
        self.enabled = [f for f in enabled if f != "pg-restart" or cluster is not None]
        self.applied: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.killed_sessions: list[int] = []
        self.log: list[str] = []
        self._deck: list[str] = []

    def apply_random(self) -> None:
        if not self.enabled:
            return
        if not self._deck:  # every kind once per round, in a seeded order
            self._deck = self.rng.sample(self.enabled, len(self.enabled))
        kind = self._deck.pop()
        actions: dict[str, Callable[[], str | None]] = {
            "supervisor": self._supervisor, "child": self._child,
            "forkserver": self._forkserver, "stop": self._stop, "pg-restart": self._pg_restart,
        }
        what = actions[kind]()
        if what is None:  # no target yet (a worker still starting): try it next time
            self.skipped[kind] += 1
            self._deck.append(kind)
            return
        self.applied[kind] += 1
        self.log.append(f"{time.strftime('%H:%M:%S')} {kind}: {what}")

    def _running(self) -> list[WorkerProc]:
        return [w for w in self.fleet.live() if w.stopped_until is None]

    def _supervisor(self) -> str | None:
        workers = self._running()
        if not workers:
            return None
        worker = self.rng.choice(workers)
        worker.killed = True
        worker.signal(signal.SIGKILL)
        worker.process.wait(10)
        self.killed_sessions.append(worker.pid)
        self.fleet.replace(worker)
        return f"{worker.name} (pid {worker.pid})"

    def _child(self) -> str | None:
        table = processes()
        pairs = [(w, pid) for w in self._running() for pid in w.children(table)]
        if not pairs:
            return None
        worker, pid = self.rng.choice(pairs)
        _kill(pid)
        return f"{worker.name} child {pid}"

    def _forkserver(self) -> str | None:
        table = processes()
        targets = [(w, s) for w in self._running() if (s := w.fork_server(table)) is not None]
        if not targets:
            return None
        worker, server = self.rng.choice(targets)
        children = worker.children(table)
        _kill(server)
        if children:
            _kill(self.rng.choice(children))
        return f"{worker.name} fork server {server} and one of its {len(children)} children"

    def _stop(self) -> str | None:
        workers = self._running()
        if not workers:
            return None
        worker = self.rng.choice(workers)
        pause = 2 * self.lease + 1
        worker.signal(signal.SIGSTOP)
        worker.stopped_until = time.monotonic() + pause
        return f"{worker.name} (pid {worker.pid}) for {pause:.0f}s"

    def _pg_restart(self) -> str | None:
        assert self.cluster is not None
        mode = self.rng.choice(["fast", "immediate", "down"])
        if mode == "down":
            self.cluster.outage(3.0)
            return "down for 3s (-m immediate, then start)"
        self.cluster.restart(mode)
        return f"-m {mode}"

    def resume_due(self, everything: bool = False) -> None:
        """SIGCONT the stopped supervisors whose pause is over (all of them at the end)."""
        now = time.monotonic()
        for worker in self.fleet.live():
            if worker.stopped_until is not None and (everything or now >= worker.stopped_until):
                worker.signal(signal.SIGCONT)
                worker.stopped_until = None


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
