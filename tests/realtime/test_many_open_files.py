"""Wake-ups keep working in a process holding more than 1,023 open descriptors, as a
server with a thousand open event streams does (``select.select`` stops at 1023)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from outlast.engine import Engine
from outlast.engine.events import CHANGED_CHANNEL
from outlast.readiness import readable
from outlast.server.realtime import Broadcaster
from outlast.store import Store

HIGH = 1100


@pytest.fixture
def crowded() -> Iterator[None]:
    """Descriptors 0…HIGH taken, so everything opened next gets a number past 1023."""
    taken: list[int] = []
    try:
        while not taken or taken[-1] < HIGH:
            taken.append(os.open(os.devnull, os.O_RDONLY))
        yield
    finally:
        for fd in taken:
            os.close(fd)


def test_readable_takes_any_descriptor(crowded: None) -> None:
    read, write = os.pipe()
    try:
        assert read > 1023
        assert not readable(read)
        os.write(write, b"x")
        assert readable(read, 1.0)
    finally:
        os.close(read)
        os.close(write)


def test_a_listener_past_1023_hears_a_commit(crowded: None, store: Store, engine: Engine,
                                             register, trigger) -> None:
    register(engine, "t")
    listener = store.listen([CHANGED_CHANNEL])
    try:
        assert listener.fileno() > 1023
        run_id = trigger(engine, "t").row["id"]
        assert readable(listener.fileno(), 5.0)
        assert (CHANGED_CHANNEL, run_id) in listener.drain()
    finally:
        listener.close()


def test_the_servers_broadcaster_past_1023_wakes_a_subscriber(
        crowded: None, engine: Engine, register, trigger,
        caplog: pytest.LogCaptureFixture) -> None:
    register(engine, "t")

    async def main() -> None:
        broadcaster = Broadcaster(engine, poll=0.05)
        try:
            with broadcaster.subscription("*") as woken:
                # woken first once its listener is open (with a number past 1023)
                await asyncio.wait_for(woken.wait(), 5)
                woken.clear()
                await asyncio.to_thread(trigger, engine, "t")
                await asyncio.wait_for(woken.wait(), 5)
        finally:
            await asyncio.to_thread(broadcaster.close)

    asyncio.run(main())
    # a listener that fails and reconnects also wakes everyone, so that alone proves nothing
    assert "realtime listener failed" not in caplog.text
