"""The supervisor's end of a child's pipe: sends never wait, every message arrives in
order, and reads take what the child sent in whole messages, as ``Connection`` frames
them on the child's side."""

from __future__ import annotations

import multiprocessing
import os
import struct
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

import pytest

from outlast.worker.child_pipe import ChildPipe, Waiter, framed

BIG = "x" * 200_000


@pytest.fixture
def pipe() -> Iterator[tuple[ChildPipe, Connection]]:
    """The supervisor's end (as a ``ChildPipe``) and the child's ``Connection``."""
    ours, theirs = multiprocessing.Pipe()
    child_pipe = ChildPipe(ours)
    yield child_pipe, theirs
    child_pipe.close()
    ours.close()
    theirs.close()


def test_a_message_sent_is_read_by_recv_as_connection_send_would_write_it(pipe: Any) -> None:
    ours, theirs = pipe
    ours.send({"run": "run_1", "payload": [1, 2.5, None]})
    assert theirs.recv() == {"run": "run_1", "payload": [1, 2.5, None]}
    assert not ours.waiting


def test_more_than_the_pipe_holds_waits_without_blocking_and_arrives_in_order(
        pipe: Any) -> None:
    ours, theirs = pipe
    started = time.monotonic()
    for n in range(20):  # ~4 MB: far past the socket pair's buffers, nobody reading
        ours.send((n, BIG))
    assert time.monotonic() - started < 1.0
    assert ours.waiting
    got: list[int] = []
    waiter = Waiter()

    def read() -> None:
        for _ in range(20):
            got.append(theirs.recv()[0])

    reader = threading.Thread(target=read)
    reader.start()
    deadline = time.monotonic() + 10
    while ours.waiting and time.monotonic() < deadline:
        waiter.wait([], [ours], 0.1)  # wakes when the pipe has room, writes more
    reader.join(10)
    waiter.close()
    assert got == list(range(20))


def test_what_the_child_sent_is_read_in_whole_messages_in_order(pipe: Any) -> None:
    ours, theirs = pipe
    assert ours.received() == []  # nothing sent: nothing, and no wait

    def send() -> None:  # the large one fills the pipe until it is read
        for n in range(50):
            theirs.send({"n": n})
        theirs.send(("large", BIG))

    sender = threading.Thread(target=send)
    sender.start()
    got: list[Any] = []
    deadline = time.monotonic() + 5
    while len(got) < 51 and time.monotonic() < deadline:
        got += ours.received()
    sender.join(5)
    assert got == [{"n": n} for n in range(50)] + [("large", BIG)]


def test_a_message_cut_anywhere_waits_for_its_rest() -> None:
    ours, theirs = multiprocessing.Pipe()
    child_pipe = ChildPipe(ours)
    try:
        data = framed({"ended": "run_1"}) + framed([1, 2, 3])
        raw = theirs.fileno()
        for cut in (1, 3, 5, len(data) - 1):  # inside a length, inside a message
            os.write(raw, data[:cut])
            first = child_pipe.received()
            os.write(raw, data[cut:])
            deadline = time.monotonic() + 5
            rest: list[Any] = []
            while len(first) + len(rest) < 2 and time.monotonic() < deadline:
                rest += child_pipe.received()
            assert first + rest == [{"ended": "run_1"}, [1, 2, 3]]
    finally:
        child_pipe.close()
        ours.close()
        theirs.close()


def test_a_closed_child_end_is_the_end_of_reading_after_its_last_messages(pipe: Any) -> None:
    ours, theirs = pipe
    theirs.send("last words")
    theirs.close()
    time.sleep(0.05)
    assert ours.received() == ["last words"]
    with pytest.raises(EOFError):
        ours.received()


def test_the_wait_returns_readers_ready_and_not_the_writers(pipe: Any) -> None:
    ours, theirs = pipe
    theirs.send("hello")
    waiter = Waiter()
    assert waiter.wait([ours], [ours], 1.0) == [ours]
    assert ours.received() == ["hello"]
    assert waiter.wait([ours], [], 0.05) == []  # nothing more to read: the timeout
    waiter.close()


def test_a_closed_child_end_is_an_error_at_send(pipe: Any) -> None:
    ours, theirs = pipe
    theirs.close()
    with pytest.raises(OSError):
        for _ in range(10):  # the first write may still be taken by the kernel
            ours.send(BIG)


def test_a_message_that_cannot_be_read_is_skipped_and_the_next_ones_are_read(
        pipe: Any, caplog: pytest.LogCaptureFixture) -> None:
    ours, theirs = pipe
    data = framed("before") + struct.pack("!i", 3) + b"bad" + framed("after")
    os.write(theirs.fileno(), data)
    got: list[Any] = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        got += ours.received()
    assert got == ["before", "after"]
    assert "could not be read" in caplog.text


def test_the_wait_follows_readers_added_and_removed_between_waits() -> None:
    """The poll set is kept while the readers are the same; a reader added is watched
    from the next wait on, one removed is not reported any more."""
    pairs = [multiprocessing.Pipe() for _ in range(2)]
    a, b = (ChildPipe(ours) for ours, _ in pairs)
    waiter = Waiter()
    try:
        pairs[1][1].send("for b")
        assert waiter.wait([a], [], 0.05) == []
        assert waiter.wait([a], [], 0.05) == []  # the same readers: the same poll set
        assert waiter.wait([a, b], [], 1.0) == [b]
        assert waiter.wait([a], [], 0.05) == []  # b is still readable, and not watched
        assert b.received() == ["for b"]
        pairs[0][1].send("for a")
        assert waiter.wait([a], [], 1.0) == [a]
    finally:
        waiter.close()
        for pipe_end, (ours, theirs) in zip((a, b), pairs, strict=True):
            pipe_end.close()
            ours.close()
            theirs.close()
