"""What the supervisor sends a child, written as far as the child's pipe takes it now.

A child reads its pipe only between runs (a sync child) or when its loop is free (a child
running shared runs). A blocking send of more than the pipe's buffers hold (runs queued
behind a long one, with large payloads) stopped the supervisor until the child read again:
no other child fed, no heartbeat sent, so the leases of every run it held lapsed and the
runs were taken for lost and run again elsewhere, while still running here. A child
blocked in a send of its own (a batch of large results) while the supervisor was blocked
sending to it would have waited forever.

So each message is framed exactly as ``Connection.send`` frames it (the child reads it
with ``recv``) and written without waiting (``MSG_DONTWAIT``); what the pipe cannot take
yet waits here, in order, and is written when the pipe has room again: the supervisor's
wait (``Waiter``) watches such a pipe for writing as well as its reads.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any

#: ``Connection.send``'s framing: a 4-byte signed length, or -1 then an 8-byte one
_SHORT_MAX = 0x7FFFFFFF


def framed(message: Any) -> bytes:
    """``message`` as ``Connection.send`` writes it, for the other end's ``recv``."""
    data = bytes(ForkingPickler.dumps(message))
    if len(data) > _SHORT_MAX:
        return struct.pack("!i", -1) + struct.pack("!Q", len(data)) + data
    return struct.pack("!i", len(data)) + data


class Outbox:
    """The supervisor's sending end of one child's pipe (a socket pair's, as
    ``multiprocessing.Pipe`` makes them on Unix)."""

    def __init__(self, conn: Connection) -> None:
        # its own descriptor of the same socket: sent on without waiting, per call, while
        # ``conn`` (the reads) keeps its blocking mode
        self._socket = socket.socket(fileno=os.dup(conn.fileno()))
        self._waiting: deque[memoryview] = deque()

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

    def close(self) -> None:
        self._waiting.clear()
        self._socket.close()


class Waiter:
    """The supervisor's wait: ``multiprocessing.connection.wait`` over its readers (child
    pipes, process sentinels, the database listener) that also wakes when an outbox can
    write more, and writes it. One poll set is kept across waits and changed only where
    the readers or writers changed: ``connection.wait`` builds one per call, a dozen
    registrations per loop turn, and a worker of sync runs turns once per finished run.
    A poll set (unlike epoll) holds no kernel state, so a descriptor closed and reused
    between two waits is never mistaken for the one it replaced."""

    def __init__(self) -> None:
        self._selector = selectors.PollSelector()
        self._watched: dict[int, tuple[Any, int]] = {}

    def wait(self, readers: list[Any], writers: list[Outbox],
             timeout: float | None) -> list[Any]:
        """The readers ready to read, once one is (or a writer wrote) or at ``timeout``;
        a child that died meanwhile is seen by its reads and its sentinel."""
        wanted: dict[int, tuple[Any, int]] = {
            (r if isinstance(r, int) else r.fileno()): (r, selectors.EVENT_READ)
            for r in readers}
        for writer in writers:  # its own descriptor (a dup): never one of the readers'
            wanted[writer.fileno()] = (writer, selectors.EVENT_WRITE)
        self._watch(wanted)
        ready: list[Any] = []
        for key, _ in self._selector.select(timeout):
            if isinstance(key.data, Outbox):
                _flush_quietly(key.data)
            else:
                ready.append(key.data)
        return ready

    def _watch(self, wanted: dict[int, tuple[Any, int]]) -> None:
        for fd in self._watched.keys() - wanted.keys():
            self._selector.unregister(fd)
        for fd, (obj, events) in wanted.items():
            known = self._watched.get(fd)
            if known is None:
                self._selector.register(fd, events, obj)
            elif known[0] is not obj or known[1] != events:
                self._selector.modify(fd, events, obj)
        self._watched = wanted

    def close(self) -> None:
        self._selector.close()


def _flush_quietly(outbox: Outbox) -> None:
    """A pipe whose child is gone: its reads and sentinel say so, and the child's reaping
    hands its runs back."""
    try:
        outbox.flush()
    except OSError:
        outbox.close()
