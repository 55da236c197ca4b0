"""The fork server a worker's children are forked from, and starting a new one when it died.

Not a plain fork: the supervisor holds database connections and threads. A fork server
(a fresh interpreter started once, with no connections or threads) imports Outlast once
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
while the supervisor opens the database. A child needs nothing from the program that
started the worker (its entry point is ``child_main``), so it is not given the main
script to run again: ``multiprocessing`` otherwise re-runs it in every child (or, in the
Pythons that fixed preloading ``__main__``, in the fork server before its first child),
and for ``outlast worker`` that script imports the whole command line.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import time
from collections.abc import Callable
from multiprocessing import forkserver, spawn
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("outlast.worker")

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["outlast.worker.child"])
#: the name of a worker's child processes (``ps``; ``_preparation_data`` keys on it)
CHILD_NAME = "outlast-child"

#: seconds a fork server that failed a request gets to finish exiting before the failure
#: is taken as something else than its death (and raised)
EXIT_WAIT = 2.0


def child_main(*args: Any) -> None:
    """A child process's entry point (``child.main``), named here so that the supervisor,
    which only starts children, never imports what they need to run task code (the SDK
    and its HTTP client): the fork server has it loaded already."""
    from outlast.worker import child

    child.main(*args)


def warm() -> None:
    """Start the fork server now if none is running, without waiting for it: it imports
    what children need meanwhile, and the first child starts as soon as it is ready."""
    with contextlib.suppress(OSError):  # one that died oddly is for ``start`` to replace
        forkserver.ensure_running()


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


def _preparation_data(name: str) -> dict[str, Any]:
    """What a new process is told to set up before its target runs; for a worker's
    child, everything but the main module (see the module's docstring)."""
    data: dict[str, Any] = _stdlib_preparation_data(name)
    if name == CHILD_NAME:
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


spawn.get_preparation_data = _preparation_data
