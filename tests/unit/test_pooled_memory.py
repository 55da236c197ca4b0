"""The memory limit of a child whose async runs share it: the sum of their presets."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable

from outlast.worker.limits import PooledMemory, _address_space

MB = 1024 * 1024


def _in_child(check: Callable[[], None]) -> None:
    """Limits are process-wide: each check runs in a process of its own, started fresh
    (a fork of this test process would copy locks its other threads may hold)."""
    process = multiprocessing.get_context("spawn").Process(target=check)
    process.start()
    process.join(30)
    assert process.exitcode == 0


def _limit() -> int:
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def _take(pool: PooledMemory, key: str, extra: int) -> tuple[int, int]:
    """Take ``key``; the process's size just before and just after."""
    before = _address_space()
    pool.take(key, extra)
    return before, _address_space()


def _sums_and_restores() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    pool = PooledMemory()
    low, high = _take(pool, "a", 100 * MB)
    first = _limit()
    assert low + 100 * MB <= first <= high + 100 * MB
    low, high = _take(pool, "b", 200 * MB)
    assert low + 300 * MB <= _limit() <= high + 300 * MB  # both runs' presets
    pool.give("a")
    assert _limit() >= low + 300 * MB  # not lowered under runs still going
    low, high = _take(pool, "c", 50 * MB)
    assert low + 250 * MB <= _limit() <= high + 250 * MB  # b and c
    pool.release()
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def _an_allocation_past_the_sum_fails() -> None:
    pool = PooledMemory()
    pool.take("a", 64 * MB)
    pool.take("b", 64 * MB)
    try:
        bytearray(400 * MB)
    except MemoryError:
        pool.release()
        bytearray(400 * MB)  # the limit the process had before is back
        return
    raise AssertionError("no MemoryError past the runs' presets")


def _no_preset_no_limit() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    pool = PooledMemory()
    pool.take("a", None)
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    pool.release()
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_the_limit_is_what_the_process_uses_plus_each_running_runs_preset() -> None:
    _in_child(_sums_and_restores)


def test_an_allocation_past_the_sum_is_a_memory_error_until_released() -> None:
    _in_child(_an_allocation_past_the_sum_fails)


def test_runs_without_a_preset_set_no_limit() -> None:
    _in_child(_no_preset_no_limit)


def _noted_runs_are_limited_once_applied() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    pool = PooledMemory()
    pool.note("a", 100 * MB)
    pool.note("b", 200 * MB)
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # set by apply, not by note
    low = _address_space()
    pool.apply()
    assert low + 300 * MB <= _limit() <= _address_space() + 300 * MB
    pool.release()
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_runs_started_together_are_limited_together() -> None:
    _in_child(_noted_runs_are_limited_once_applied)
