"""The supervisor's sends to a child: never waiting, every message delivered in order."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest

from outlast.worker.outbox import Outbox, Waiter

BIG = "x" * 200_000


@pytest.fixture
def pipe() -> Iterator[tuple[Connection, Connection, Outbox]]:
    """A child's pipe: the supervisor's end, the child's, and the outbox over the first."""
    ours, theirs = multiprocessing.Pipe()
    outbox = Outbox(ours)
    yield ours, theirs, outbox
    outbox.close()
    ours.close()
    theirs.close()


def test_a_message_is_read_by_recv_as_connection_send_would_write_it(pipe: Any) -> None:
    ours, theirs, outbox = pipe
    outbox.send({"run": "run_1", "payload": [1, 2.5, None]})
    assert theirs.recv() == {"run": "run_1", "payload": [1, 2.5, None]}
    assert not outbox.waiting


def test_more_than_the_pipe_holds_waits_without_blocking_and_arrives_in_order(pipe: Any) -> None:
    ours, theirs, outbox = pipe
    started = time.monotonic()
    for n in range(20):  # ~4 MB: far past the socket pair's buffers, nobody reading
        outbox.send((n, BIG))
    assert time.monotonic() - started < 1.0
    assert outbox.waiting
    got: list[int] = []
    waiter = Waiter()

    def read() -> None:
        for _ in range(20):
            got.append(theirs.recv()[0])

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 10
    while outbox.waiting and time.monotonic() < deadline:
        waiter.wait([], [outbox], 0.1)  # wakes when the pipe has room, writes more
    reader.join(10)
    waiter.close()
    assert got == list(range(20))


def test_the_wait_returns_readers_ready_and_not_the_writers(pipe: Any) -> None:
    ours, theirs, outbox = pipe
    theirs.send("hello")
    waiter = Waiter()
    assert waiter.wait([ours], [outbox], 1.0) == [ours]
    ours.recv()
    assert waiter.wait([ours], [], 0.05) == []  # nothing more to read: the timeout
    waiter.close()


def test_a_closed_child_end_is_an_error_at_send(pipe: Any) -> None:
    ours, theirs, outbox = pipe
    theirs.close()
    with pytest.raises(OSError):
        for _ in range(10):  # the first write may still be taken by the kernel
            outbox.send(BIG)
