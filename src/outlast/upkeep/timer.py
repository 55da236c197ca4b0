"""The upkeep holder's timer: sleep until the next due moment, wake early when told.

No polling period stands between a due moment and the pass that handles it: the loop
sleeps until that moment (engine clock), and wakes sooner when

- ``poke()`` is called (stop, or a writer in this process that knows better),
- an ``announce.DUE_CHANNEL`` note announces a moment earlier than the one it sleeps to
  (another process suspended a run on a short sleep, say), or a listener reports that
  notes were lost (``ANY_CHANNEL``).

The listener is opened only while leading: followers hold no extra connection. On SQLite
a listener hears every commit's notes, not just this channel's; the others are dropped
here without a database read, and after such a wake-up the listener is left unheard for
``NOTE_GAP`` so that a busy database costs the holder a few wake-ups a second, not one a
commit (an announced moment is then heard at most that late).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from multiprocessing.connection import wait
from typing import Any

from outlast.engine import announce
from outlast.store.protocol import ANY_CHANNEL, Listener, Store

log = logging.getLogger("outlast.upkeep")

#: seconds the listener goes unheard after a wake-up that announced nothing useful
NOTE_GAP = 0.005


class DueTimer:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._listener: Listener | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def listen(self) -> None:
        """Hear due notes from now on (call before reading the next due moment, so a
        moment written between that read and the sleep still wakes it)."""
        if self._listener is None:
            self._listener = self._store.listen([announce.DUE_CHANNEL])

    def forget(self) -> None:
        """Close the listener (no longer leading, or the database went away)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                listener.close()

    def drain(self) -> float | None:
        """The earliest moment announced since the last drain (-inf: notes were lost)."""
        if self._listener is None:
            return None
        try:
            notes = self._listener.drain()
        except Exception as exc:  # the database restarted: the next pass listens again
            log.warning("upkeep lost its database listener (%s)", exc)
            self.forget()
            return -math.inf
        return _earliest(notes)

    def poke(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write, b"x")

    def sleep(self, seconds: float, until: float) -> None:
        """Sleep ``seconds``, or less when poked or told of a moment before ``until``."""
        deadline = time.monotonic() + seconds
        hear_from = 0.0  # monotonic; the listener is heard again from then
        while (remaining := deadline - time.monotonic()) > 0:
            waitables: list[Any] = [self._read]
            quiet = hear_from - time.monotonic()
            if self._listener is not None and quiet <= 0:
                waitables.append(self._listener)
            elif self._listener is not None:
                remaining = min(remaining, quiet)
            ready = wait(waitables, remaining)
            if self._read in ready:
                _drain_fd(self._read)
                return
            if ready:
                announced = self.drain()
                if announced is not None and announced < until:
                    return
                hear_from = time.monotonic() + NOTE_GAP

    def close(self) -> None:
        self.forget()
        os.close(self._read)
        os.close(self._write)


def _earliest(notes: list[tuple[str, str]]) -> float | None:
    moments = [-math.inf if channel == ANY_CHANNEL else announce.parse(payload)
               for channel, payload in notes if channel in (announce.DUE_CHANNEL, ANY_CHANNEL)]
    return min((m for m in moments if m is not None), default=None)


def _drain_fd(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 4096):
            pass
