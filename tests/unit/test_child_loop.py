"""A worker's child runs async attempts on one lasting event loop (``ChildLoop``), with
``asyncio.run``'s semantics for each: the value or the exception, leftovers cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from outlast.worker.event_loop import ChildLoop


@pytest.fixture
def loop() -> Iterator[ChildLoop]:
    child_loop = ChildLoop()
    yield child_loop
    child_loop.close()


def test_each_run_gets_the_same_loop_and_its_own_result(loop: ChildLoop) -> None:
    async def which() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    first, second = loop.run(which()), loop.run(which())
    assert first is second and not first.is_closed()


def test_an_exception_reaches_the_caller_and_the_loop_goes_on(loop: ChildLoop) -> None:
    async def fails() -> None:
        raise ValueError("boom")

    async def fine() -> int:
        return 7

    with pytest.raises(ValueError, match="boom"):
        loop.run(fails())
    assert loop.run(fine()) == 7


def test_tasks_left_running_are_cancelled_before_the_next_run(loop: ChildLoop) -> None:
    seen: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    async def leaves_one() -> None:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)

    loop.run(leaves_one())
    assert seen == ["cancelled"]

    async def count() -> int:
        return len(asyncio.all_tasks())

    assert loop.run(count()) == 1  # itself only
