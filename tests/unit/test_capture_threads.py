"""Threads of one attempt writing at once: every line they write reaches the run's logs
whole, with ``captured``'s own streams and with a worker child's routed ones."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from outlast.worker import capture
from outlast.worker.capture import LogBuffer, captured

THREADS, LINES = 8, 250


@contextmanager
def _switching_often() -> Iterator[None]:
    """Threads switch every microsecond, so any unguarded read-then-write between two of
    them shows within a few hundred writes."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _write_from_threads() -> None:
    """Each thread writes its lines, one ``write`` a line, to stdout and to stderr."""
    start = threading.Barrier(THREADS)

    def lines(number: int) -> None:
        start.wait()
        for line in range(LINES):
            stream = sys.stderr if line % 5 == 0 else sys.stdout
            stream.write(f"thread {number} line {line}\n")

    threads = [threading.Thread(target=lines, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _expected() -> list[str]:
    return sorted(f"thread {n} line {line}" for n in range(THREADS) for line in range(LINES))


def _messages_of_an_attempt() -> list[str]:
    shipped: list[dict[str, Any]] = []
    with _switching_often(), captured(LogBuffer(shipped.extend)):
        _write_from_threads()
    return sorted(record["message"] for record in shipped)


def test_lines_written_at_once_by_an_attempts_threads_all_reach_its_logs() -> None:
    assert _messages_of_an_attempt() == _expected()


def _routed_check() -> None:
    capture.route_process()
    for _ in range(3):  # the streams of each attempt are made by its first write
        assert _messages_of_an_attempt() == _expected()


def test_the_same_in_a_child_whose_output_is_routed_for_good() -> None:
    process = multiprocessing.get_context("spawn").Process(target=_routed_check)
    process.start()
    process.join(120)
    assert process.exitcode == 0


def _fork() -> int:
    with warnings.catch_warnings():  # a fork beside a thread is what this test is about
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def _child_writes_a_line() -> None:
    """In the forked process: one line through the capture, then exit 0 if it arrived."""
    code = 1
    try:
        shipped: list[dict[str, Any]] = []
        with captured(LogBuffer(shipped.extend)):
            print("written by the forked process")
        code = 0 if [r["message"] for r in shipped] == ["written by the forked process"] \
            else 1
    finally:
        os._exit(code)


def _exit_code(pid: int, within: float) -> int | None:
    """The child's exit code, or None (and the child killed) if it is still running."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def test_a_process_forked_while_another_thread_writes_can_write() -> None:
    """A task that forks (``multiprocessing``'s default on Linux) while one of its threads
    is in the middle of a write: the forked process's own writes do not wait forever on
    the lock that thread held."""
    holding, done = threading.Event(), threading.Event()

    def write_slowly() -> None:
        with capture._lock:
            holding.set()
            done.wait(10)

    thread = threading.Thread(target=write_slowly)
    thread.start()
    try:
        assert holding.wait(5)
        pid = _fork()
        if pid == 0:
            _child_writes_a_line()
        assert _exit_code(pid, within=10) == 0
    finally:
        done.set()
        thread.join()
