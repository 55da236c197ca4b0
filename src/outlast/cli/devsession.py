"""One ``outlast dev`` process: the API server, a worker and a file watcher together.

uvicorn owns the main thread (it needs it for signals), the supervisor loop runs in a
thread beside it, and the watcher asks the supervisor to recycle its children when a
task module changes. Shutdown runs in the order that loses nothing: stop accepting
HTTP, let the supervisor drain its running attempts, then stop watching. A second
Ctrl-C hands the running attempts back to the queue at once instead of draining.

The session is ready (``/readyz``, and the banner) once its worker registered the tasks
it could import; before that a trigger would be refused as an unknown task. A guard
watches ``.outlast/``: with the database deleted under it, every run and token made
from then on would vanish at exit, so the session stops and says why.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from outlast.cli.common import relative
from outlast.cli.serving import ForcedStop, stop_signals
from outlast.config import Config

log = logging.getLogger("outlast.dev")

#: seconds between two looks at ``.outlast/`` (deleted database or ``dev.env``)
GUARD_INTERVAL = 1.0
#: seconds before a start that is not ready yet says what it waits for
ANNOUNCE_PATIENCE = 5.0
#: seconds a forced stop waits for the worker to hand its runs back and say so
FORCED_STOP_WAIT = 5.0


class DevSession:
    def __init__(self, config: Config, server: uvicorn.Server, supervisor: Any,
                 sock: socket.socket, *, reload: bool, grace: float,
                 on_ready: Callable[[], None] | None = None,
                 write_env: Callable[[], None] | None = None) -> None:
        self.config = config
        self.server = server
        self.supervisor = supervisor
        self.sock = sock
        self.reload = reload
        self.grace = grace
        self.on_ready = on_ready
        self.write_env = write_env
        self.watch_stop = threading.Event()
        #: set when the supervisor returned. Not ``Thread.join``: on Python 3.11 a join
        #: interrupted by a signal handler's exception (the second Ctrl-C) marks the
        #: thread stopped, and every later join returns at once while it still runs.
        self.worker_done = threading.Event()
        self.failed = False
        self._worker = threading.Thread(target=self._run_supervisor, name="outlast-worker",
                                        daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="outlast-watch", daemon=True)
        self._helpers = [threading.Thread(target=self._announce, name="outlast-ready",
                                          daemon=True),
                         threading.Thread(target=self._guard, name="outlast-guard",
                                          daemon=True)]

    def run(self) -> int:
        """Serve until Ctrl-C or SIGTERM; 1 when the worker died or the state was lost."""
        with stop_signals(self.stop, "outlast dev"):
            self._worker.start()
            if self.reload:
                self._watcher.start()
            for helper in self._helpers:
                helper.start()
            try:
                self.server.run(sockets=[self.sock])
                self.stop()
                self.worker_done.wait(self.grace + 10)
            except ForcedStop:
                self._stop_now()
                raise
            finally:
                self.watch_stop.set()
        if not self.worker_done.is_set():
            log.warning("the worker did not stop within %.0fs; leaving it behind", self.grace)
        return 1 if self.failed else 0

    def stop(self) -> None:
        """Graceful: safe to call more than once, from a signal handler or a thread."""
        self.server.should_exit = True
        self.supervisor.request_stop()

    def _stop_now(self) -> None:
        """A second Ctrl-C: the worker kills its running attempts and hands their runs
        back to the queue (no attempt spent, nothing left for recovery to crash)."""
        self.server.should_exit = True
        self.supervisor.request_stop(now=True)
        if not self.worker_done.wait(FORCED_STOP_WAIT):
            log.warning("the worker did not hand its runs back within %.0fs; recovery will "
                        "retry them once their lease runs out", FORCED_STOP_WAIT)
        else:
            log.info("stopped; the runs that were running are back in the queue")

    def _run_supervisor(self) -> None:
        try:
            self.supervisor.run()
        except Exception:
            log.exception("the worker stopped with an error; shutting down")
            self.failed = True
            self.server.should_exit = True
        finally:
            self.worker_done.set()

    def _announce(self) -> None:
        """Call ``on_ready`` (the banner) once HTTP is served and the tasks are known;
        say what it waits for when that takes a while (a slow or failing import)."""
        patience = time.monotonic() + ANNOUNCE_PATIENCE
        while not self.watch_stop.wait(0.05):
            reason = worker_ready_reason(self.supervisor)
            if self.server.started and reason is None:
                if self.on_ready is not None:
                    self.on_ready()
                return
            if reason is not None and time.monotonic() > patience:
                log.info("not ready yet: %s", reason)
                patience = float("inf")

    def _guard(self) -> None:
        files = StateFiles(self.config)
        while not self.watch_stop.wait(GUARD_INTERVAL):
            lost = files.database_lost()
            if lost:
                log.error("%s; stopping so that nothing more is lost. Start `outlast dev` "
                          "again for a fresh database.", lost)
                self.failed = True
                self.stop()
                return
            if files.env_lost() and self.write_env is not None:
                self.write_env()
                files.env_lost()  # remember the new file
                log.warning(".outlast/dev.env was deleted; written again")

    def _watch(self) -> None:
        import watchfiles

        paths = [p for p in self.config.task_dirs() if p.is_dir()]
        for changes in watchfiles.watch(*paths, watch_filter=watchfiles.PythonFilter(),
                                        stop_event=self.watch_stop, raise_interrupt=False):
            names = sorted({relative(Path(p), self.config.root) for _, p in changes})
            log.info("changed: %s; reloading task modules", ", ".join(names))
            try:
                self.supervisor.reload()
            except Exception:
                log.exception("reloading task modules failed; fix the error and save again")


def worker_ready_reason(supervisor: Any) -> str | None:
    """None once the worker registered its tasks; else why not yet (``/readyz``)."""
    if supervisor.tasks_registered:
        return None
    error = supervisor.import_error
    if error:
        return f"the worker could not import the task modules: {error.strip()}"
    return "the worker has not registered its tasks yet"


class StateFiles:
    """The SQLite database and ``dev.env`` as they were at start (by inode)."""

    def __init__(self, config: Config) -> None:
        url = config.database_url
        sqlite = url.startswith("sqlite:///") and not url.endswith(":memory:")
        self.database = Path(url.removeprefix("sqlite:///")) if sqlite else None
        self.env = config.state_dir() / "dev.env"
        self._inodes = {p: _inode(p) for p in (self.database, self.env) if p is not None}

    def database_lost(self) -> str | None:
        """Why the database this process writes to is no longer the one on disk."""
        path = self.database
        if path is None or self._inodes.get(path) is None:
            return None
        now = _inode(path)
        if now is None:
            return f"the database {path} was deleted while `outlast dev` ran"
        if now != self._inodes[path]:
            return f"the database {path} was replaced while `outlast dev` ran"
        return None

    def env_lost(self) -> bool:
        """True once when ``dev.env`` disappeared (it is replaced on purpose, so only
        absence counts)."""
        present = _inode(self.env)
        lost = present is None and self._inodes.get(self.env) is not None
        self._inodes[self.env] = present
        return lost


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None
