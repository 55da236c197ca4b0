"""The server's broadcaster never lets a subscriber miss a change committed after it
subscribed, even one committed before the broadcaster's listener was listening."""

from __future__ import annotations

import asyncio
import threading

import pytest

from outlast.engine import Engine, events
from outlast.server.realtime import Broadcaster
from outlast.store.protocol import Listener


def test_a_commit_before_the_listener_is_up_still_wakes_a_subscriber(
        engine: Engine, register, trigger, monkeypatch: pytest.MonkeyPatch) -> None:
    register(engine, "t")
    listening = threading.Event()
    open_listener = engine.store.listen

    def late_listen(channels: list[str]) -> Listener:
        listening.wait(5)  # held back until the change below is committed
        return open_listener(channels)

    monkeypatch.setattr(engine.store, "listen", late_listen)

    async def main() -> None:
        broadcaster = Broadcaster(engine, poll=0.05)
        try:
            with broadcaster.subscription("*") as woken:
                # the subscriber has read the current state; a run is triggered before the
                # listener hears anything, so no notification of it will ever arrive
                await asyncio.to_thread(trigger, engine, "t")
                listening.set()
                await asyncio.wait_for(woken.wait(), 5)
                assert woken.is_set(), "the subscriber was never woken"
        finally:
            await asyncio.to_thread(broadcaster.close)

    asyncio.run(main())


def test_the_listener_stops_once_its_event_loop_is_gone(engine: Engine) -> None:
    """An app stopped without its shutdown (a test client used without ``with``) must not
    leave a thread listening, and reconnecting once its database is gone; a subscriber on
    a new loop starts listening again."""
    broadcaster = Broadcaster(engine, poll=0.05)

    async def subscribe() -> threading.Thread:
        with broadcaster.subscription("*"):
            await asyncio.sleep(0.1)
        assert broadcaster._thread is not None
        return broadcaster._thread

    first = asyncio.run(subscribe())  # the loop closes when asyncio.run returns
    first.join(5)
    assert not first.is_alive(), "the listener outlived its event loop"
    second = asyncio.run(subscribe())
    assert second is not first
    second.join(5)
    assert not second.is_alive()
    broadcaster.close()


def test_a_subscriber_on_a_new_loop_is_woken_while_the_old_listener_winds_down(
        engine: Engine, register, trigger) -> None:
    """The listener of a closed loop may still be running when a subscriber comes on a
    new one (it looks at its loop once a poll): that subscriber is still woken."""
    register(engine, "t")
    broadcaster = Broadcaster(engine, poll=0.5)

    async def subscribe() -> None:
        with broadcaster.subscription("*"):
            await asyncio.sleep(0.1)

    async def woken_by_a_trigger() -> bool:
        with broadcaster.subscription("*") as woken:
            await asyncio.sleep(0.2)  # past any "listener is up" wake-up
            woken.clear()
            await asyncio.to_thread(trigger, engine, "t")
            try:
                await asyncio.wait_for(woken.wait(), 5)
            except TimeoutError:
                return False
            return True

    for _ in range(3):  # right after the first loop closed, and again
        asyncio.run(subscribe())
        assert asyncio.run(woken_by_a_trigger()), "the subscriber was never woken"
    broadcaster.close()


def _changed(engine: Engine, run_ids: list[str]) -> None:
    with engine.store.transaction() as tx:
        events.runs_changed(tx, run_ids)


def test_a_note_of_several_runs_wakes_each_of_their_subscribers(engine: Engine) -> None:
    """A batch's runs are announced several to a note (``events.runs_changed``)."""
    broadcaster = Broadcaster(engine, poll=0.05)

    async def main() -> None:
        with broadcaster.subscription("run_b") as woken, \
                broadcaster.subscription("run_z") as other:
            await asyncio.sleep(0.3)  # past any "listener is up" wake-up
            woken.clear()
            other.clear()
            await asyncio.to_thread(_changed, engine, ["run_a", "run_b", "run_c"])
            await asyncio.wait_for(woken.wait(), 5)
            assert not other.is_set()

    try:
        asyncio.run(main())
    finally:
        broadcaster.close()
