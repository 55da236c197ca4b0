"""One ``outlast dev`` process: the API server, a worker and a file watcher together.

uvicorn owns the main thread (it needs it for signals), the supervisor loop runs in a
thread beside it, and the watcher asks the supervisor to recycle its children when a
task module changes. Shutdown runs in the order that loses nothing: stop accepting
HTTP, let the supervisor drain its running attempts, then stop watching.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn

from outlast.cli.common import relative
from outlast.cli.serving import stop_signals
from outlast.config import Config

log = logging.getLogger("outlast.dev")


class DevSession:
    def __init__(self, config: Config, server: uvicorn.Server, supervisor: Any,
                 sock: socket.socket, *, reload: bool, grace: float) -> None:
        self.config = config
        self.server = server
        self.supervisor = supervisor
        self.sock = sock
        self.reload = reload
        self.grace = grace
        self.watch_stop = threading.Event()
        self.failed = False
        self._worker = threading.Thread(target=self._run_supervisor, name="outlast-worker",
                                        daemon=True)
        self._watcher = threading.Thread(target=self._watch, name="outlast-watch", daemon=True)

    def run(self) -> int:
        """Serve until Ctrl-C or SIGTERM; 1 when the worker died on its own."""
        with stop_signals(self.stop, "outlast dev"):
            self._worker.start()
            if self.reload:
                self._watcher.start()
            try:
                self.server.run(sockets=[self.sock])
                self.stop()
                self._worker.join(self.grace + 10)
            finally:
                self.watch_stop.set()
        if self._worker.is_alive():
            log.warning("the worker did not stop within %.0fs; leaving it behind", self.grace)
        return 1 if self.failed else 0

    def stop(self) -> None:
        """Graceful: safe to call more than once, from a signal handler or a thread."""
        self.server.should_exit = True
        self.supervisor.request_stop()

    def _run_supervisor(self) -> None:
        try:
            self.supervisor.run()
        except Exception:
            log.exception("the worker stopped with an error; shutting down")
            self.failed = True
            self.server.should_exit = True

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

