"""The event loop of a worker's child, kept from one attempt to the next.

``asyncio.run`` makes a loop for each call and closes it after. For an async task that
cost about 0.13 ms of each attempt, and worse, anything the task keeps between runs (an
``httpx.AsyncClient`` or a connection pool in a module global, the way clients are meant
to be used) is bound to a closed loop by the next attempt and fails there. A child runs
one attempt at a time, so one loop serves them all: each attempt's coroutine runs to its
end on it as under ``asyncio.run``, and what the attempt left running (tasks it started
and never awaited) is cancelled before the next attempt starts, as ``asyncio.run`` would
have cancelled it. The loop lives as long as the child.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class ChildLoop:
    """Runs one coroutine at a time to its end on a loop that is never closed.

    Not ``asyncio.Runner``: its every ``run`` looks up the SIGINT handler, which alone
    cost a third of what this saves. A child ignores SIGINT (the supervisor decides when
    it stops), so there is no handler to install."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def loop(self) -> asyncio.AbstractEventLoop:
        """The child's loop, made on first use: a child of sync tasks needs none."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
        return loop

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """``asyncio.run(coro)``, on this child's loop."""
        loop = self.loop()
        try:
            return loop.run_until_complete(coro)
        finally:
            self.cancel_leftovers(loop)

    def close(self) -> None:
        """Close the loop (a child's ends with its process; tests close theirs)."""
        if self._loop is not None:
            asyncio.set_event_loop(None)
            self._loop.close()
            self._loop = None

    @staticmethod
    def cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the tasks the coroutine left running and let them finish unwinding."""
        left = [t for t in asyncio.all_tasks(loop) if not t.done()]
        if not left:
            return
        for leftover in left:
            leftover.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
