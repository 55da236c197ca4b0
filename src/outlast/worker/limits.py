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
from collections.abc import Iterator
from contextlib import contextmanager

_statm: list[int] = []  # this process's /proc/self/statm, opened once


def _address_space() -> int:
    """This process's virtual size in bytes (0 where /proc is not there). The file stays
    open and is read again from its start each time (``pread``), since a warm child asks
    once per attempt; it is reopened after a fork, whose /proc/self is another process."""
    try:
        if not _statm or _statm[1] != os.getpid():
            if _statm:  # the parent's, inherited: this process's copy of it is closed
                os.close(_statm[0])
            _statm[:] = [os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC), os.getpid()]
        pages = int(os.pread(_statm[0], 64, 0).split()[0])
        return pages * resource.getpagesize()
    except OSError:
        return 0


@contextmanager
def memory_limit(extra_bytes: int | None) -> Iterator[None]:
    if not extra_bytes:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
