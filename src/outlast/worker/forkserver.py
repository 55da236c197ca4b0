"""The fork server a worker's children are forked from, and starting a new one when it died.

Not a plain fork of the supervisor: it holds database connections and threads. A fork
server (a process with no connections or threads, started once) imports Outlast once
and forks each child from there, so a worker's children start in milliseconds instead of
each importing Outlast on its own. Task modules are never imported there: every child
imports them afresh, so a reload sees changed code.

The fork server is one process, and it can die (an operator's ``kill``, the OOM killer).
``multiprocessing`` starts a new one only if it has already reaped the old one; a server
that is still exiting refuses the connection, and one reaped elsewhere (a ``SIGCHLD``
handler) makes ``waitpid`` fail, and either error would end the worker. ``start`` waits
for a dying server to exit, forgets it, and starts the child from a new one. The old
server's children die with it (``child.py`` asks for that); their attempts are handed
back uncharged, the platform's fault and not the task's (``outcomes.died``).

Starting fast: ``warm`` starts the fork server without waiting for it, so its imports run
while the supervisor opens the database. At a program's start (``warm(fork=True)``, before
any thread or connection exists) the fork server and ``multiprocessing``'s resource tracker
are forks of the program running the code ``multiprocessing`` gives a new interpreter: no
interpreter starts, twice, on the way to the first child (``_fork_passfds``), and what
both the supervisor and the children load (``SHARED``) is imported once, before the fork,
rather than in each process. Later starts (a server that died) are new interpreters, as
the program then holds threads and connections a fork must not copy. (In ``ps`` such a
fork server and its children show the program's command line, ``outlast worker ...``.)
A child needs nothing from the program that
started the worker (its entry point is ``child_main``), so it is not given the main
script to run again: ``multiprocessing`` otherwise re-runs it in every child (or, in the
Pythons that fixed preloading ``__main__``, in the fork server before its first child),
and for ``outlast worker`` that script imports the whole command line.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import multiprocessing
import os
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import forkserver, resource_tracker, spawn, util
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("outlast.worker")

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["outlast.worker.child"])
#: the name of a worker's child processes (``ps``; ``_preparation_data`` keys on it)
CHILD_NAME = "outlast-child"

#: what a worker's supervisor (whatever its store) and its children both load: imported
#: before the fork server is forked from a starting program (``warm(fork=True)``), once
#: for both processes (tests/worker/test_lean_start.py checks each side loads all of it)
SHARED = (
    "inspect", "json", "pathlib", "urllib.parse", "ipaddress", "zoneinfo",
    "outlast.errors", "outlast.jsonutil", "outlast.clock", "outlast.durations",
    "outlast.machines", "outlast.inputs", "outlast.core.definitions", "outlast.core.options",
    "outlast.core.cron", "outlast.core.outcomes", "outlast.core.retry",
    "outlast.core.retention", "outlast.core.backoff", "outlast.core.debounce",
    "outlast.core.limits", "outlast.core.hook_kinds", "outlast.core.blob_refs",
    "outlast.core.import_failures", "outlast.core.versions", "outlast.core.durable_requests",
    "outlast.worker.messages",
)

#: the kernel's name (``/proc/PID/comm``, ``ps -o comm``, ``top``) of a fork server or
#: resource tracker forked from a starting program, whose command line is the program's
#: own (``outlast worker ...``): how tools and the fault suite tell them apart
FORK_SERVER_NAME = "outlast-forksrv"
TRACKER_NAME = "outlast-tracker"

#: seconds a fork server that failed a request gets to finish exiting before the failure
#: is taken as something else than its death (and raised)
EXIT_WAIT = 2.0


def child_main(*args: Any) -> None:
    """A child process's entry point (``child.main``), named here so that the supervisor,
    which only starts children, never imports what they need to run task code (the SDK
    and its HTTP client): the fork server has it loaded already."""
    from outlast.worker import child

    child.main(*args)


def warm(fork: bool = False) -> None:
    """Start the fork server now if none is running, without waiting for it: it imports
    what children need meanwhile, and the first child starts as soon as it is ready.

    ``fork``: the program is starting (no thread, no connection yet): the fork server and
    the resource tracker are forks of it rather than new interpreters, with ``SHARED``
    loaded first (see the module's docstring). Ignored once another thread runs."""
    with contextlib.suppress(OSError):  # one that died oddly is for ``start`` to replace
        if fork and threading.active_count() == 1 and _server_pid_unset():
            for name in SHARED:
                importlib.import_module(name)
            with _forked_starts():
                forkserver.ensure_running()
        else:
            forkserver.ensure_running()


@contextlib.contextmanager
def _forked_starts() -> Iterator[None]:
    """``multiprocessing`` starts its helper processes (``spawnv_passfds``) as forks."""
    spawnv = _util.spawnv_passfds
    _util.spawnv_passfds = _fork_passfds
    try:
        yield
    finally:
        _util.spawnv_passfds = spawnv


def _fork_passfds(path: str, args: Sequence[str], passfds: Sequence[int]) -> int:
    """``util.spawnv_passfds(path, args, passfds)`` as a fork: the ``-c`` code that the new
    interpreter would run (the fork server's or the resource tracker's ``main``), run in a
    fork of this process that keeps only ``passfds`` (and standard input and output)."""
    code = args[-1]
    if len(args) < 2 or args[-2] != "-c":  # not shaped as expected: as ``multiprocessing`` does
        return int(_stdlib_spawnv(path, args, passfds))
    for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
        with contextlib.suppress(Exception):
            stream.flush()
    pid = os.fork()
    if pid:
        return pid
    os._exit(_run_forked(code, passfds))  # never back into the program's own code


def _name_process(name: str) -> None:
    """Set this process's kernel name (at most 15 bytes; Linux only, else nothing)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME


def _run_forked(code: str, passfds: Sequence[int]) -> int:
    """In the fork: what a new interpreter would have (only ``passfds`` open, the locks
    of ``multiprocessing``'s helpers free: the parent held them while it forked), then
    ``code``; its exit status. What the program had made is frozen first: never collected
    here or in a child, so no finalizer of the program's (a connection's goodbye, a
    socket's close) runs on a descriptor number that is now another's."""
    try:
        gc.freeze()
        _name_process(FORK_SERVER_NAME if "forkserver" in code else TRACKER_NAME)
        _util.spawnv_passfds = _stdlib_spawnv  # what this process starts is as ever
        _close_fds_but(passfds)
        for helper in (_server(), _tracker()):
            if hasattr(helper, "_lock"):
                helper._lock = threading.RLock() if _is_rlock(helper._lock) \
                    else threading.Lock()
        tracker = _tracker()
        if hasattr(tracker, "_fd"):  # the program's: closed here, as in a new interpreter
            tracker._fd = tracker._pid = None
        exec(code, {"__name__": "__mp_helper__"})  # noqa: S102 - multiprocessing's own code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _server_pid_unset() -> bool:
    """No fork server was started yet (``SHARED`` would be loaded for nothing)."""
    return getattr(_server(), "_forkserver_pid", None) is None


def _tracker() -> Any:
    return getattr(resource_tracker, "_resource_tracker", None)


def _is_rlock(lock: object) -> bool:
    return isinstance(lock, type(threading.RLock()))


def _close_fds_but(keep: Sequence[int]) -> None:
    """Close every file descriptor above standard error but those in ``keep``."""
    low = 3
    for fd in sorted({int(k) for k in keep if int(k) >= 3}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def start(make: Callable[[], BaseProcess]) -> BaseProcess:
    """Start the process ``make()`` builds; once more from a new fork server if it died."""
    process = make()
    try:
        process.start()
        return process
    except (OSError, EOFError):  # refused, reset, reaped elsewhere, closed mid-request
        if not forget_dead_server():
            raise
    log.warning("the worker's fork server died; starting a new one")
    process = make()
    process.start()
    return process


def server_pid() -> int | None:
    """The running fork server's process id (None before the first child)."""
    pid = getattr(_server(), "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None


def forget_dead_server() -> bool:
    """True when the fork server has exited (waited for a moment): it is then forgotten,
    and the next child starts a new one. False while it is alive, or if this Python's
    ``multiprocessing`` is not shaped as expected."""
    server = _server()
    lock = getattr(server, "_lock", None)
    if lock is None or not hasattr(server, "_forkserver_alive_fd"):
        return False
    with lock:  # the lock ``ensure_running`` holds: no child starts meanwhile
        pid = server._forkserver_pid
        if pid is not None and not _wait_exit(pid):
            return False
        if server._forkserver_alive_fd is not None:
            with contextlib.suppress(OSError):
                os.close(server._forkserver_alive_fd)
        server._forkserver_pid = None
        server._forkserver_alive_fd = None
        server._forkserver_address = None
    return True


def exited(pid: int) -> bool:
    """True once fork server ``pid`` is gone or going (left for ``multiprocessing`` to reap).

    Its children learn of its end first (their exit-code pipe closes as it exits), so the
    test does not wait for it to be a zombie: a server whose end of the "alive" pipe is
    closed is gone.
    """
    if pid != server_pid():
        return True  # forgotten: it died
    alive = getattr(_server(), "_forkserver_alive_fd", None)
    if isinstance(alive, int) and _reader_gone(alive):
        return True
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # reaped already, by someone else
        return True


def _reader_gone(fd: int) -> bool:
    """The write end ``fd`` of a pipe reports an error: nobody holds the read end."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _wait_exit(pid: int) -> bool:
    deadline = time.monotonic() + EXIT_WAIT
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: gone all the same
            return True
        if done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def _server() -> Any:
    return getattr(forkserver, "_forkserver", None)


_stdlib_preparation_data = spawn.get_preparation_data
#: ``multiprocessing.util``, whose ``spawnv_passfds`` ``_forked_starts`` replaces a moment
_util: Any = util
_stdlib_spawnv = _util.spawnv_passfds


def _preparation_data(name: str) -> dict[str, Any]:
    """What a new process is told to set up before its target runs; for a worker's
    child, everything but the main module (see the module's docstring)."""
    data: dict[str, Any] = _stdlib_preparation_data(name)
    if name == CHILD_NAME:
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _preparation_data
