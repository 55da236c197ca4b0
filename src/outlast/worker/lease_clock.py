"""Until when a worker surely holds its leases, told to its children through shared memory.

The supervisor heartbeats the leases of every run its children hold; a child never does.
When the supervisor stops heartbeating (``SIGSTOP``, a loop that hangs, a database away
longer than the lease) its children go on: a child would start the next run waiting in its
pipe, or the next step of the run it is in, after the lease lapsed and another worker may
have taken the run over and recorded that step. The step would then run twice, once after
its result was committed: the one thing durable execution must not do.

So the supervisor publishes the time (on ``now``'s clock, which every process on the
machine reads alike) until which every lease it holds is surely still its own: the start
of its last heartbeat that succeeded plus the lease, less a margin. A claimed run carries
the same bound from its claim (``Assignment.held_until``), for the runs claimed since that
heartbeat. A child asks ``LeaseGuard.held`` before an attempt starts and before each
durable operation that runs rather than replays; past the bound the attempt ends handed
back (``HandBack``), as when the database stays away: uncharged, and written only if the
lease was still the worker's after all.

The value lives in one 8-byte double in a ``memfd`` shared by the supervisor (which
writes it) and its children (which map it read-only): reading it costs a child no message
and no system call. The file descriptor reaches a child as a pipe's does when the fork
server starts it (``multiprocessing.reduction.DupFd``). Where ``memfd_create`` is missing
(not Linux) there is no clock, and children rely on the supervisor's heartbeat answer
alone, as before.
"""

from __future__ import annotations

import functools
import mmap
import os
import struct
import time
import weakref
from collections.abc import Callable
from multiprocessing import reduction
from typing import Any

_DOUBLE = struct.Struct("d")

#: the clock the bound is kept on: the machine's time since boot, suspended time included
#: (``CLOCK_BOOTTIME``). A lease runs on while a laptop's lid is closed (the database dates
#: it by the wall clock); ``time.monotonic`` stops then, and a child woken after the lease
#: lapsed would still take it for held. ``time.monotonic`` where there is no such clock.
now: Callable[[], float] = functools.partial(time.clock_gettime, time.CLOCK_BOOTTIME) \
    if hasattr(time, "CLOCK_BOOTTIME") else time.monotonic

#: the share of the lease kept in hand: a step is not started in the last tenth of a lease
#: that was not renewed (the bound is checked, then the step starts; the worker that takes
#: the run over must first see the lease lapse)
MARGIN_SHARE = 0.1


class LeaseClock:
    """The shared bound: written by the supervisor, read by its children."""

    def __init__(self, fd: int, writable: bool) -> None:
        self._fd = fd
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        self._map = mmap.mmap(fd, _DOUBLE.size, access=access)
        #: closes the map and the descriptor once, by ``close`` or when collected (a
        #: supervisor built by a test and never run is not closed otherwise)
        self._release = weakref.finalize(self, _release, self._map, fd)

    @classmethod
    def create(cls) -> LeaseClock | None:
        """A new clock at 0 (nothing held yet), or None where shared memory is missing."""
        if not hasattr(os, "memfd_create"):
            return None
        fd = os.memfd_create("outlast-leases", os.MFD_CLOEXEC)
        os.ftruncate(fd, _DOUBLE.size)
        return cls(fd, writable=True)

    def extend(self, until: float) -> None:
        """Every lease held is the worker's until ``until`` (``now``'s clock): a heartbeat that
        renewed them all, started at ``until`` less the lease, succeeded."""
        if until > self.until():
            _DOUBLE.pack_into(self._map, 0, until)

    def until(self) -> float:
        value: float = _DOUBLE.unpack_from(self._map, 0)[0]
        return value

    def close(self) -> None:
        self._release()

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent to a child the fork server starts: the descriptor travels beside the
        pickle, and the child maps it read-only."""
        return _attach, (reduction.DupFd(self._fd),)


def _release(shared: mmap.mmap, fd: int) -> None:
    shared.close()
    os.close(fd)


def _attach(dup: Any) -> LeaseClock:
    return LeaseClock(dup.detach(), writable=False)


def margin(lease_seconds: float) -> float:
    return lease_seconds * MARGIN_SHARE


#: the clock of the supervisor this process is a child of (``child.main`` sets it)
current: LeaseClock | None = None


class LeaseGuard:
    """Whether one attempt's lease is surely still held: its claim's bound, or later the
    supervisor's last heartbeat's."""

    __slots__ = ("_until", "_clock")

    def __init__(self, held_until: float | None, clock: LeaseClock) -> None:
        self._until = held_until or 0.0
        self._clock = clock

    def held(self) -> bool:
        at = now()
        if at < self._until:
            return True
        self._until = max(self._until, self._clock.until())
        return at < self._until


def guard(held_until: float | None) -> LeaseGuard | None:
    """The guard of an attempt claimed with ``held_until``; None outside a worker's child
    (``outlast.testing``, a tool running an attempt itself): nothing to guard against."""
    return None if current is None else LeaseGuard(held_until, current)
