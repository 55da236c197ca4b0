"""A duty: one piece of upkeep work that runs on its own thread while its process leads.

The alert sender, the pruner, the bulk-action runner and the reclaimer each have their own thread so
that a slow receiver, a long backlog or a large action never delays a due wake-up in the
upkeep loop; they share this scaffolding. A duty's thread sleeps, then asks whether its
process holds the upkeep lease (``leader.Upkeep.leading``) and, only if so, runs one pass
(``run_once``). A pass that raises is logged with its traceback and tried again after
``interval``: the thread outlives every failure, as recovery must (the database restarts,
a receiver is down). ``stop`` ends the sleep and any ``pause`` inside a pass at once, so
shutting a process down never waits for an interval; ``wake`` ends only the sleep.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from typing import ClassVar


class Duty(abc.ABC):
    """Subclasses name their thread, logger and pass, and define ``run_once``."""

    #: the thread's name (``outlast-…``), seen in thread dumps
    thread_name: ClassVar[str]
    #: where a failed pass is logged
    logger: ClassVar[logging.Logger]
    #: what a pass is, for the log ("alert pass")
    what: ClassVar[str]

    def __init__(self, leading: Callable[[], bool], *, interval: float,
                 idle: float | None = None) -> None:
        """``interval``: seconds after a pass (and a failed one) before the next;
        ``idle``: before the first pass and between looks while not leading (default
        ``interval``)."""
        self._leading = leading
        self.interval = interval
        self._idle = interval if idle is None else idle
        self._stopping = threading.Event()
        self._woken = threading.Event()  # set by wake() and stop(): the sleep ends
        self._thread: threading.Thread | None = None

    @abc.abstractmethod
    def run_once(self) -> float | None:
        """One pass, called only while leading; returns the seconds until the next
        (``None``: ``interval``)."""

    @property
    def leading(self) -> bool:
        """Does this process hold the upkeep lease? Long passes ask between batches."""
        return self._leading()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._woken.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread: its sleep and any ``pause`` end now, a pass at its next
        ``pause`` or ``stopping`` check."""
        self._stopping.set()
        self._woken.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def wake(self) -> None:
        """Start the next pass now rather than after the sleep (work was just added)."""
        self._woken.set()

    def pause(self, seconds: float) -> None:
        """Sleep inside a pass (between batches, so other writers get the database);
        ended early by ``stop``."""
        self._stopping.wait(seconds)

    def _loop(self) -> None:
        pause = self._idle
        while not self._sleep(pause):
            pause = self._turn()

    def _sleep(self, seconds: float) -> bool:
        """Sleep until ``seconds`` pass or someone wakes the thread; True once stopping."""
        self._woken.wait(seconds)
        self._woken.clear()
        return self._stopping.is_set()

    def _turn(self) -> float:
        """A pass if leading; returns the seconds to sleep before the next turn."""
        try:
            if not self._leading():
                return self._idle
            after = self.run_once()
        except Exception:
            self.logger.exception("%s failed; retrying in %.1fs", self.what, self.interval)
            return self.interval
        return self.interval if after is None else after
