"""The child process: imports the task modules once, then runs attempts one at a time.

Warm between runs. Anything a run does to this process (``os._exit``, a segfault, a
memory blow-up) ends only this process; the supervisor notices and replaces it.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from outlast.errors import OutlastError, TaskNotFoundError, error_from_body
from outlast.observability import configure_export
from outlast.sdk.calls import Call
from outlast.sdk.client import set_worker_transport
from outlast.sdk.durable import Runtime, patiently
from outlast.sdk.registry import default_registry, import_task_modules
from outlast.sdk.task import set_task_defaults
from outlast.worker.executor import error_info, run_attempt, run_hook_job
from outlast.worker.messages import (
    ApiCall,
    Assignment,
    Finished,
    HookDone,
    HookJob,
    Ready,
    Reply,
    RuntimeCall,
    Stop,
)


class PipeTransport:
    """Module-level SDK calls made by task code, answered by the supervisor.

    The supervisor may already have sent the next assignment when a reply is due, so
    anything that is not the awaited reply is kept in ``inbox`` for the serve loop.
    """

    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._ids = itertools.count(1)
        self._lock = lock
        self.inbox: deque[Any] = deque()

    def send(self, call: Call) -> Any:
        """Waited out while the database is away, as durable operations are."""
        return patiently(lambda: self._ask(lambda request_id: ApiCall(request_id, call)))

    def runtime(self, op: str, args: dict[str, Any]) -> Any:
        """The durable-operation runtime of the attempt running in this child."""
        return self._ask(lambda request_id: RuntimeCall(request_id, op, args))

    def _ask(self, message: Callable[[int], Any]) -> Any:
        with self._lock:
            request_id = next(self._ids)
            self._conn.send(message(request_id))
            reply = self._conn.recv()
            while isinstance(reply, Assignment | HookJob | Stop | list):
                self.inbox.extend(reply if isinstance(reply, list) else [reply])
                reply = self._conn.recv()
        if not isinstance(reply, Reply) or reply.request_id != request_id:
            raise OutlastError(f"unexpected reply from the worker: {reply!r}")
        if not reply.ok:
            raise error_from_body(reply.error or {}, reply.status)
        return reply.data

    def close(self) -> None:
        pass


def main(conn: Connection, task_dirs: list[str], root: str,
         task_defaults: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> None:
    """Entry point of a child process (forked by the pool's fork server)."""
    if environ is not None:  # the supervisor's, not the fork server's (started earlier)
        os.environ.clear()
        os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # shutdown is the supervisor's decision
    _die_with_parent()
    configure_export()
    try:
        set_task_defaults(**(task_defaults or {}))
        import_task_modules(task_dirs, Path(root))
    except BaseException:
        conn.send(Ready(os.getpid(), [], error=traceback.format_exc()))
        return
    definitions = [t.definition().to_dict() for t in default_registry.all()]
    conn.send(Ready(os.getpid(), definitions))
    lock = threading.Lock()
    pipe = PipeTransport(conn, lock)
    set_worker_transport(pipe)
    _serve(conn, _locked_send(conn, lock), pipe)


def _locked_send(conn: Connection, lock: threading.Lock) -> Callable[[Any], None]:
    """Task code may log from several threads; the pipe takes one message at a time."""

    def send(message: Any) -> None:
        with lock:
            conn.send(message)

    return send


def _serve(conn: Connection, send: Callable[[Any], None], pipe: PipeTransport) -> None:
    runtime: Runtime = pipe.runtime
    while True:
        try:
            message = pipe.inbox.popleft() if pipe.inbox else conn.recv()
        except (EOFError, OSError):
            return
        if isinstance(message, list):  # several runs sent at once: run them in order
            pipe.inbox.extendleft(reversed(message))
            continue
        if isinstance(message, Stop):
            return
        if isinstance(message, Assignment):
            send(_attempt(message, send, runtime))
        elif isinstance(message, HookJob):
            _hook(message, send)


def _attempt(job: Assignment, send: Callable[[Any], None], runtime: Runtime) -> Finished:
    try:
        task = default_registry.get(job.run["task_id"])
    except TaskNotFoundError as exc:
        return Finished(job.run["id"], job.lease_id, job.attempt, "failed", 0.0,
                        error=error_info(exc))
    return run_attempt(task, job, send, runtime)


def _hook(job: HookJob, send: Callable[[Any], None]) -> None:
    task = default_registry.find(job.run["task_id"])
    if task is not None:
        run_hook_job(task, job, send)
    send(HookDone(job.run["id"], job.lease_id))


def _die_with_parent() -> None:
    """Ask Linux to kill this child if the supervisor dies (even by ``kill -9``)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
