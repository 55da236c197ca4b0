"""Memory limits for one attempt, from its machine preset.

The child's address-space limit is set to what it already uses plus the preset's
memory, so the preset is what the task itself may allocate on top of the interpreter
and its imports. An allocation beyond it raises ``MemoryError``, which the attempt
reports as out of memory. The soft limit is lowered for the attempt and raised again
after it, so a warm child can serve runs of different presets.
"""

from __future__ import annotations

import resource
from collections.abc import Iterator
from contextlib import contextmanager


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[0])
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
