"""Whether a file descriptor has something to read, for any descriptor number.

``select.select`` refuses descriptors past 1023, and a server holding a thousand open
event streams hands out such numbers to the database sockets it opens next: its
realtime listener then failed on every wake-up. ``poll`` has no such limit (Windows,
which has no ``poll``, has no such numbers either).
"""

from __future__ import annotations

import select
import threading


def readable(fd: int, timeout: float = 0.0) -> bool:
    """True when ``fd`` can be read without blocking; waits at most ``timeout`` seconds."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(max(timeout, 0.0) * 1000))
    return bool(select.select([fd], [], [], timeout)[0])


_pollers = threading.local()


def has_input(fd: int) -> bool:
    """``readable(fd)`` without waiting, asked often of the same few descriptors (a pooled
    connection's, at each checkout): each thread keeps a poll object per descriptor
    instead of making and filling one per question (a poll object answers one thread
    at a time)."""
    if not hasattr(select, "poll"):
        return readable(fd)
    kept: dict[int, select.poll] | None = getattr(_pollers, "by_fd", None)
    if kept is None:
        kept = _pollers.by_fd = {}
    poller = kept.get(fd)
    if poller is None:
        poller = kept[fd] = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
