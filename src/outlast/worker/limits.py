"""Memory limits for one attempt, from its machine preset.

The child's address-space limit is set to what it already uses plus the preset's
memory, so the preset is what the task itself may allocate on top of the interpreter
and its imports. An allocation beyond it raises ``MemoryError``, which the attempt
reports as out of memory. The soft limit is lowered for the attempt and raised again
after it, so a warm child can serve runs of different presets.
"""

from __future__ import annotations

import os
import resource
from contextlib import AbstractContextManager, nullcontext

_statm: list[int] = []  # this process's /proc/self/statm, opened once


def _forget_statm() -> None:
    """After a fork: the descriptor is the parent's /proc/self, another process."""
    if _statm:
        os.close(_statm.pop())


os.register_at_fork(after_in_child=_forget_statm)


def _address_space() -> int:
    """This process's virtual size in bytes (0 where /proc is not there). The file stays
    open and is read again from its start each time (``pread``), since a warm child asks
    once per attempt (a shared child once per run it starts)."""
    try:
        if not _statm:
            _statm.append(os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC))
        pages = int(os.pread(_statm[0], 64, 0).split()[0])
        return pages * resource.getpagesize()
    except OSError:
        return 0


def memory_limit(extra_bytes: int | None) -> AbstractContextManager[None]:
    """The attempt's address-space limit while it runs (none without ``extra_bytes``)."""
    return _Limited(extra_bytes) if extra_bytes else nullcontext()


class _Limited:
    """``memory_limit`` with a limit: a class, not a generator, since a sync child enters
    one per attempt (a generator's context manager costs as much as the system calls)."""

    __slots__ = ("_extra", "_saved")

    def __init__(self, extra_bytes: int) -> None:
        self._extra = extra_bytes
        self._saved = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)

    def __enter__(self) -> None:
        soft, hard = self._saved = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + self._extra
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    def __exit__(self, *_: object) -> None:
        resource.setrlimit(resource.RLIMIT_AS, self._saved)


class PooledMemory:
    """The memory limit of a child whose async runs share it (``shared_runs.py``).

    One run's allocations cannot be told from another's in one process, so the runs in
    it share what they would have had apart: when a run starts, the limit becomes what the
    process uses then plus every running run's preset. It is not lowered when a run ends
    (memory already in use would fail the runs still going), only raised by the next
    start, and put back when the last shared run has ended.

    Runs that start together (one message of the supervisor's) are ``noted`` one by one
    and the limit set once for them all (``apply``): none of their code runs in between,
    so the process's size is the same for each, and a start then costs no system call."""

    def __init__(self) -> None:
        self._extra: dict[str, int] = {}
        self._total = 0  # the sum of ``_extra``'s values: up to a hundred runs share a child
        self._saved: tuple[int, int] | None = None
        self._noted = False  # a run with a preset started since the limit was last set

    def take(self, key: str, extra_bytes: int | None) -> None:
        """Run ``key`` starts with ``extra_bytes`` of its own (None: no limit for it)."""
        self.note(key, extra_bytes)
        self.apply()

    def note(self, key: str, extra_bytes: int | None) -> None:
        """``take`` whose limit is set by the next ``apply``, before any run's code runs."""
        if not extra_bytes:
            return
        self._total += extra_bytes - self._extra.get(key, 0)
        self._extra[key] = extra_bytes
        self._noted = True

    def apply(self) -> None:
        """Set the limit for the runs ``noted`` since it was last set, if any."""
        if not self._noted:
            return
        self._noted = False
        if self._saved is None:
            self._saved = resource.getrlimit(resource.RLIMIT_AS)
        hard = self._saved[1]
        limit = _address_space() + self._total
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

    def give(self, key: str) -> None:
        """Run ``key`` ended: the next start no longer counts it."""
        self._total -= self._extra.pop(key, 0)

    def release(self) -> None:
        """No shared run is left: the limit the process had before them."""
        self._extra.clear()
        self._total = 0
        self._noted = False
        if self._saved is not None:
            resource.setrlimit(resource.RLIMIT_AS, self._saved)
            self._saved = None
