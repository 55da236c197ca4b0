"""Leases kept alive from a side thread while the supervisor's loop waits for a child.

The supervisor heartbeats its attempts from its one loop, and starting a child blocks
that loop. A child forks from a live fork server in milliseconds, but after the server
died the next child waits for a new one: a fresh interpreter importing Outlast, seconds
on a loaded machine, longer than a short lease. Without heartbeats meanwhile the leases
lapse and the sweeper charges the attempts the worker still holds (those of the children
that died with the server, about to be handed back uncharged, and the claimed-ahead
runs) with a crash that was no fault of theirs. ``kept`` heartbeats them until the wait
ends. It covers that bounded wait only: a loop that hangs must still lose its leases, so
that its runs are recovered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("outlast.worker")


@contextmanager
def kept(heartbeat: Callable[[], object], interval: float) -> Iterator[None]:
    """Call ``heartbeat`` every ``interval`` seconds from a thread until the block ends."""
    done = threading.Event()

    def keep() -> None:
        while not done.wait(interval):
            try:
                heartbeat()
            except Exception as exc:  # the database away: the loop's own heartbeat retries
                log.warning("could not extend the worker's leases: %s", exc)

    thread = threading.Thread(target=keep, name="outlast-lease-keeper", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
