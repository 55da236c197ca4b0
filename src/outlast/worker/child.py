"""The child process: imports the task modules once, then runs attempts one at a time.

Each task file is imported on its own: one that fails is reported (``Ready.import_errors``)
and the tasks of the others run; a run of a task that is missing because of it fails
saying which file failed and why.

Warm between runs. Anything a run does to this process (``os._exit``, a segfault, a
memory blow-up) ends only this process; the supervisor notices and replaces it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import itertools
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NoReturn

from outlast.core.durable_requests import DurableRequest, Record
from outlast.core.import_failures import ImportFailure, no_worker_has
from outlast.errors import ConfigError, TaskNotFoundError, error_from_body
from outlast.observability import configure_export, flush
from outlast.sdk import hooks as project_hooks
from outlast.sdk.calls import Call
from outlast.sdk.client import set_worker_transport
from outlast.sdk.durable import RecordAhead, Runtime, patiently
from outlast.sdk.registry import default_registry, import_task_files
from outlast.sdk.task import set_task_defaults
from outlast.sdk.transports import with_retry_key
from outlast.worker import lease_clock
from outlast.worker.capture import keep_info_level, route_process
from outlast.worker.child_pipe import LENGTH, LONG_LENGTH, framed
from outlast.worker.code_identity import project_version, remember_loaded
from outlast.worker.event_loop import ChildLoop
from outlast.worker.executor import error_info, run_attempt, run_hook_job
from outlast.worker.messages import (
    ApiCall,
    Assignment,
    Finished,
    HookDone,
    HookJob,
    Ready,
    Recorded,
    Reply,
    RuntimeCall,
    Stop,
)
from outlast.worker.shared_runs import SharedRuns

#: the exit code of a child whose supervisor is gone (nobody reads it; ``ps`` may)
ORPHANED_EXIT = 0


class PipeTransport:
    """Module-level SDK calls made by task code, answered by the supervisor.

    The supervisor may already have sent the next assignment when a reply is due, so
    anything that is not the awaited reply is kept in ``inbox`` for the serve loop.
    """

    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        self._conn = conn
        self._ids = itertools.count(1)
        self.lock = lock
        self.inbox: deque[Any] = deque()
        #: told (from the asking thread) when an ask kept messages in ``inbox``: while
        #: shared runs are in flight their loop takes them (``SharedRuns.stashed``)
        self.on_stash: Callable[[], None] | None = None

    def send(self, call: Call) -> Any:
        """Waited out while the database is away, as durable operations are. A trigger is
        asked again with the idempotency key of its first try (``with_retry_key``): that
        try may have committed before the database went away."""
        call = with_retry_key(call)
        return patiently(lambda: self._ask(lambda request_id: ApiCall(request_id, call)))

    def runtime(self, request: DurableRequest) -> Any:
        """The durable-operation runtime of the attempt running in this child."""
        return self._ask(lambda request_id: RuntimeCall(request_id, request))

    def note(self, request: Record) -> None:
        """A completed operation, sent without waiting: the supervisor writes it before
        anything sent after it (``RecordAhead``)."""
        with self.lock:
            try:
                self._conn.send(Recorded(request))
            except (EOFError, OSError):  # not into task code, which could carry on
                _orphaned()

    def next_id(self) -> int:
        """A request id no other request of this child has (``SharedRuns.ask`` too)."""
        return next(self._ids)

    def _ask(self, message: Callable[[int], Any]) -> Any:
        with self.lock:
            request_id = self.next_id()
            try:
                self._conn.send(message(request_id))
                reply = self._conn.recv()
                kept = False
                while not (isinstance(reply, Reply) and reply.request_id == request_id):
                    # another run's answer, a new run, a cancel: for whoever reads next
                    self.inbox.extend(reply if isinstance(reply, list) else [reply])
                    reply, kept = self._conn.recv(), True
            except (EOFError, OSError):  # not into task code, which could carry on
                _orphaned()
        if kept and self.on_stash is not None:
            self.on_stash()
        return answer_of(reply)

    def close(self) -> None:
        pass


def answer_of(reply: Reply) -> Any:
    """What a request was answered, or its error raised."""
    if not reply.ok:
        raise error_from_body(reply.error or {}, reply.status)
    return reply.data


def main(conn: Connection, task_dirs: list[str], root: str,
         task_defaults: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None, record_ahead: int = 0,
         leases: lease_clock.LeaseClock | None = None) -> None:
    """Entry point of a child process (forked by the pool's fork server).

    ``record_ahead``: the largest step result (``RecordAhead.limit``) recorded without
    waiting for the supervisor's answer; 0: every one waits. ``leases``: until when the
    supervisor surely holds the leases (``lease_clock.py``): no attempt starts, and no
    durable operation runs, past it."""
    lease_clock.current = leases
    if environ is not None:  # the supervisor's, not the fork server's (started earlier)
        os.environ.clear()
        os.environ.update(environ)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # shutdown is the supervisor's decision
    _die_with_fork_server()
    _exit_with_supervisor()
    configure_export()
    try:
        _import_and_serve(conn, task_dirs, Path(root), task_defaults, record_ahead)
    except (EOFError, OSError):  # the pipe broke: nobody is left to tell how a run ended
        _orphaned()


def _import_and_serve(conn: Connection, task_dirs: list[str], root: Path,
                      task_defaults: dict[str, Any] | None, record_ahead: int) -> None:
    try:
        defaults = dict(task_defaults or {})
        declared = defaults.pop("hooks", None)
        set_task_defaults(**defaults)
        keep_info_level()
        failures = import_task_files(task_dirs, root)
        project_hooks.declare_from(declared)
    except ConfigError as exc:  # a [hooks] path that does not import: say which, plainly
        conn.send(Ready(os.getpid(), [], error=exc.message))
        return
    except BaseException:
        conn.send(Ready(os.getpid(), [], error=traceback.format_exc()))
        return
    tasks = default_registry.all()
    route_process()  # once the task modules hold the real streams, if they keep any
    # What exists now (the interpreter, its imports, the task modules) lives as long as
    # the child: collections need not scan it again after every few thousand allocations
    # of its runs (7% of a shared child's CPU in a drain of no-op runs).
    gc.freeze()
    conn.send(Ready(os.getpid(), [t.definition().to_dict() for t in tasks],
                    import_errors=failures, code_version=project_version(root),
                    async_tasks=tuple(t.id for t in tasks if t.is_async)))
    lock = threading.Lock()
    pipe = PipeTransport(conn, lock)
    set_worker_transport(pipe)
    ahead = RecordAhead(pipe.note, record_ahead) if record_ahead > 0 else None
    send, loop = _locked_send(conn, lock), ChildLoop()
    shared = SharedRuns(conn, pipe, send, ahead, loop.loop,
                        lambda job: _missing(job, failures), _orphaned, answer_of)
    _serve(conn, send, pipe, failures, ahead, loop, shared)


def _locked_send(conn: Connection, lock: threading.Lock) -> Callable[[Any], None]:
    """Task code may log from several threads; the pipe takes one message at a time.

    Pickled as ``conn.send`` would, less its pickler's extra reducers (pipes, sockets:
    never in what a child reports), which it copies into a new pickler per message: a
    sync child sends one per run. Framed as ``conn.send_bytes`` frames it
    (``child_pipe.framed``, as the supervisor frames what it sends), written straight to
    the pipe's descriptor (``_write``)."""
    fd = conn.fileno()

    def send(message: Any) -> None:
        data = framed(message)
        with lock:
            _write(fd, data)

    return send


def _write(fd: int, data: bytes) -> None:
    """All of ``data`` (a framed message), as ``Connection.send_bytes`` less its checks:
    one write, unless a signal or the socket's buffer cut it short."""
    sent = os.write(fd, data)
    if sent < len(data):  # a signal, or a socket buffer smaller than the message
        with memoryview(data) as view:
            while sent < len(data):
                sent += os.write(fd, view[sent:])


def _received(fd: int) -> Any:
    """``Connection.recv`` less its checks and buffers: the next message on ``fd``."""
    (size,) = LENGTH.unpack(_read(fd, 4))
    if size == -1:
        (size,) = LONG_LENGTH.unpack(_read(fd, 8))
    return pickle.loads(_read(fd, size))


def _read(fd: int, size: int) -> bytes:
    """Exactly ``size`` bytes; ``EOFError`` when the other end closed before them."""
    data = os.read(fd, size)
    if len(data) == size:
        return data
    chunks = [data]
    got = len(data)
    while data and got < size:
        data = os.read(fd, size - got)
        chunks.append(data)
        got += len(data)
    if got < size:
        raise EOFError
    return b"".join(chunks)


def _serve(conn: Connection, send: Callable[[Any], None], pipe: PipeTransport,
           failures: dict[str, ImportFailure], ahead: RecordAhead | None,
           loop: ChildLoop, shared: SharedRuns) -> None:
    runtime: Runtime = pipe.runtime
    fd = conn.fileno()
    while True:
        try:
            message = pipe.inbox.popleft() if pipe.inbox else _received(fd)
        except (EOFError, OSError):  # the supervisor closed the pipe: it is gone
            _orphaned()
        if isinstance(message, list):  # several runs sent at once: run them in order
            pipe.inbox.extendleft(reversed(message))
            continue
        if isinstance(message, Stop):
            flush()  # the child ends by os._exit: no atexit shutdown exports them
            return
        if isinstance(message, Assignment) and message.shared:
            shared.run(message)  # with every shared run sent while it goes on
            flush()
        elif isinstance(message, Assignment):
            send(_attempt(message, send, runtime, failures, ahead, loop))
            flush()  # after the report, so a slow collector never delays the run
        elif isinstance(message, HookJob):
            _hook(message, send)


def _attempt(job: Assignment, send: Callable[[Any], None], runtime: Runtime,
             failures: dict[str, ImportFailure], ahead: RecordAhead | None,
             loop: ChildLoop) -> Finished:
    return _missing(job, failures) or run_attempt(
        default_registry.get(job.run["task_id"]), job, send, runtime, ahead, loop.run)


def _missing(job: Assignment, failures: dict[str, ImportFailure]) -> Finished | None:
    """The report of a run whose task this child does not have; None when it has it."""
    try:
        default_registry.get(job.run["task_id"])
    except TaskNotFoundError as exc:
        missing = exc
        if failures:  # the task is most likely in a file that failed: say which and why
            missing = TaskNotFoundError(no_worker_has(job.run["task_id"], failures),
                                        task=job.run["task_id"])
        return Finished(job.run["id"], job.lease_id, job.attempt, "failed", 0.0,
                        error=error_info(missing))
    return None


def _hook(job: HookJob, send: Callable[[Any], None]) -> None:
    task = default_registry.find(job.run["task_id"])
    errors = run_hook_job(task, job, send) if task is not None else []
    send(HookDone(job.run["id"], job.lease_id, errors))


def _die_with_fork_server() -> None:
    """Ask Linux to kill this child when its parent dies (even by ``kill -9``).

    The parent is the fork server, not the supervisor. A child outliving its fork server
    would look dead to the supervisor (which learns exit codes through the server), which
    would record its run as crashed while the run went on. Once this child holds no copy
    of the server's "alive" pipe, the server exits when the supervisor dies, and this
    signal then ends the child even while task code holds the GIL in C code.
    """
    server = getattr(forkserver, "_forkserver", None)
    alive = getattr(server, "_forkserver_alive_fd", None)
    if isinstance(alive, int):  # a task starting processes this way gets a server of its own
        with contextlib.suppress(OSError):
            os.close(alive)
        server._forkserver_alive_fd = None  # type: ignore[union-attr]
        server._forkserver_address = None  # type: ignore[union-attr]
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _exit_with_supervisor() -> None:
    """End this child as soon as its supervisor dies, on any platform.

    The supervisor holds the only write end of the pipe behind ``parent_process()``'s
    sentinel, so it reads as closed the moment the supervisor is gone: a task writing
    side effects in a loop stops at once instead of running on, unwatched, with a lease
    the sweeper will hand to another worker.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        _orphaned()

    threading.Thread(target=watch, name="outlast-supervisor-watch", daemon=True).start()


def _orphaned() -> NoReturn:
    """The supervisor is gone (or stopped listening): exit now, quietly. No traceback and
    no ``atexit`` work, which could block; the run is recovered by the sweeper."""
    os._exit(ORPHANED_EXIT)


# the fork server imports this module before it forks any child: what is loaded now is
# loaded in every child, so its files are resolved here once (``project_version``)
remember_loaded()
