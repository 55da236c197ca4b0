"""The supervisor's end of a child's pipe: sends that never wait, reads in bulk.

**Sending.** A child reads its pipe only between runs (a sync child) or when its loop is
free (a child running shared runs). A blocking send of more than the pipe's buffers hold
(runs queued behind a long one, with large payloads) stopped the supervisor until the
child read again: no other child fed, no heartbeat sent, so the leases of every run it
held lapsed and the runs were taken for lost and run again elsewhere, while still running
here. A child blocked in a send of its own (a batch of large results) while the
supervisor was blocked sending to it would have waited forever. So each message is
framed exactly as ``Connection.send`` frames it (the child reads it with ``recv``) and
written without waiting (``MSG_DONTWAIT``); what the pipe cannot take yet waits here, in
order, and is written when the pipe has room again: the supervisor's wait (``Waiter``)
watches such a pipe for writing as well as its reads.

**Reading.** ``Connection.recv`` reads a message's length, then the message: two reads,
and a poll to learn whether another follows, for each of a sync child's ended runs.
Here one read takes all the pipe holds and is cut into the messages it frames.
"""

from __future__ import annotations

import logging
import os
import pickle
import selectors
import socket
import struct
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("outlast.worker")

#: ``Connection.send``'s framing: a 4-byte signed length, or -1 then an 8-byte one (the
#: supervisor's side here, the child's in ``child.py``)
LENGTH, LONG_LENGTH = struct.Struct("!i"), struct.Struct("!Q")
_SHORT_MAX = 0x7FFFFFFF
#: bytes asked of the pipe per read (more is read until it holds nothing)
_READ_SIZE = 1 << 18


def framed(message: Any) -> bytes:
    """``message`` as ``Connection.send`` writes it, for the other end's ``recv``.

    Pickled as ``Connection.send`` would but with the plain pickler: ``ForkingPickler``
    only adds reducers that pass sockets and connections (descriptors) to a process, and
    no message to a child holds one, and making one per message (it copies the pickler's
    dispatch table) took some 3 µs, more than pickling a run's assignment."""
    data = pickle.dumps(message)
    if len(data) > _SHORT_MAX:
        return LENGTH.pack(-1) + LONG_LENGTH.pack(len(data)) + data
    return LENGTH.pack(len(data)) + data


class ChildPipe:
    """The supervisor's end of one child's pipe (a socket pair's, as
    ``multiprocessing.Pipe`` makes them on Unix)."""

    def __init__(self, conn: Connection) -> None:
        # its own descriptor of the same socket: sent on and read without waiting, per
        # call, while ``conn`` keeps its blocking mode
        self._socket = socket.socket(fileno=os.dup(conn.fileno()))
        self._waiting: deque[memoryview] = deque()
        self._read = bytearray()

    @property
    def waiting(self) -> bool:
        """Is something still to be written (the child has not read enough yet)?"""
        return bool(self._waiting)

    def fileno(self) -> int:
        return self._socket.fileno()

    def send(self, message: Any) -> None:
        """Write ``message`` now, or as much as fits and the rest later; raises ``OSError``
        when the child's end is closed (the child is gone)."""
        self._waiting.append(memoryview(framed(message)))
        self.flush()

    def flush(self) -> None:
        """Write what waits, until the pipe is full or nothing is left."""
        while self._waiting:
            head = self._waiting[0]
            try:
                sent = self._socket.send(head, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            if sent < len(head):
                self._waiting[0] = head[sent:]
            else:
                self._waiting.popleft()

    def received(self) -> list[Any]:
        """Every whole message the pipe holds now, in order (none when it holds none);
        ``EOFError`` once the child's end is closed and no whole message is left."""
        data, closed = self._fill()
        messages, used = _unframed(data)
        if data is self._read:
            del self._read[:used]
        elif used < len(data):  # the start of a message whose rest is still to come
            self._read += memoryview(data)[used:]
        if closed and not messages:
            raise EOFError("the child's end of the pipe is closed")
        return messages

    def _fill(self) -> tuple[bytes | bytearray, bool]:
        """Read all the pipe holds: what there is to read (after what an earlier read
        left of a message), and whether the other end is closed. A read that got less
        than it asked for took all there was: no second read to learn it (what came
        meanwhile, or the other end's close, leaves the pipe readable for the next wait);
        when nothing was left before it, what it got is read as it is, not copied."""
        while True:
            try:
                chunk = self._socket.recv(_READ_SIZE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return self._read, False
            if not chunk:
                return self._read, True
            if len(chunk) < _READ_SIZE and not self._read:
                return chunk, False
            self._read += chunk
            if len(chunk) < _READ_SIZE:
                return self._read, False

    def drop_waiting(self) -> None:
        self._waiting.clear()

    def close(self) -> None:
        self._waiting.clear()
        self._socket.close()


def _unframed(data: bytes | bytearray) -> tuple[list[Any], int]:
    """The whole messages at the start of ``data``, and how many bytes they took."""
    messages: list[Any] = []
    at, view = 0, memoryview(data)
    try:
        while len(data) - at >= 4:
            (size,) = LENGTH.unpack_from(data, at)
            start = at + 4
            if size == -1:  # a message of 2 GiB or more: an 8-byte length follows
                if len(data) - at < 12:
                    break
                (size,) = LONG_LENGTH.unpack_from(data, start)
                start += 8
            if len(data) - start < size:
                break
            try:
                messages.append(pickle.loads(view[start:start + size]))
            except Exception:  # noqa: BLE001 - one bad message must not stop the rest
                log.exception("a message from a worker's child could not be read")
            at = start + size
    finally:
        view.release()  # a bytearray with a view of it cannot be resized
    return messages, at


class Waiter:
    """The supervisor's wait: ``multiprocessing.connection.wait`` over its readers (child
    pipes, process sentinels, the database listener) that also wakes when a child's pipe can
    write more, and writes it. One poll set is kept across waits and changed only where
    the readers or writers changed: ``connection.wait`` builds one per call, a dozen
    registrations per loop turn, and a worker of sync runs turns once per finished run.
    A poll set (unlike epoll) holds no kernel state, so a descriptor closed and reused
    between two waits is never mistaken for the one it replaced."""

    def __init__(self) -> None:
        self._selector = selectors.PollSelector()
        #: the readers and writers the poll set was last made for
        self._watched: tuple[list[Any], list[ChildPipe]] | None = None

    def wait(self, readers: list[Any], writers: list[ChildPipe],
             timeout: float | None) -> list[Any]:
        """The readers ready to read, once one is (or a writer wrote) or at ``timeout``;
        a child that died meanwhile is seen by its reads and its sentinel. The poll set is
        looked over only when the readers or writers differ from the last wait's (most
        turns of a drain wait for the same ones)."""
        if self._watched is None or self._watched[0] != readers or \
                self._watched[1] != writers:
            wanted: dict[int, tuple[Any, int]] = {
                (r if isinstance(r, int) else r.fileno()): (r, selectors.EVENT_READ)
                for r in readers}
            for writer in writers:
                fd = writer.fileno()
                wanted[fd] = (writer, wanted.get(fd, (writer, 0))[1] | selectors.EVENT_WRITE)
            self._watch(wanted)
            self._watched = (list(readers), list(writers))
        ready: list[Any] = []
        for key, events in self._selector.select(timeout):
            if events & selectors.EVENT_WRITE:
                _flush_quietly(key.data)
            if events & selectors.EVENT_READ:
                ready.append(key.data)
        return ready

    def _watch(self, wanted: dict[int, tuple[Any, int]]) -> None:
        """Make the poll set ``wanted``; the selector's own map is what is registered."""
        registered = self._selector.get_map()
        for fd in [fd for fd in registered if fd not in wanted]:
            self._selector.unregister(fd)
        for fd, (obj, events) in wanted.items():
            key = registered.get(fd)
            if key is None:
                self._selector.register(fd, events, obj)
            elif key.data is not obj or key.events != events:
                self._selector.modify(fd, events, obj)

    def close(self) -> None:
        self._selector.close()


def _flush_quietly(pipe: ChildPipe) -> None:
    """A pipe whose child is gone cannot take what waits: it is dropped. The child's reads
    and sentinel say it is gone, and its reaping hands its runs back."""
    try:
        pipe.flush()
    except OSError:
        pipe.drop_waiting()
