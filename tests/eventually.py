"""The one way a test waits for another thread or process: poll a condition until it holds.

Time inside the system under test is a fake clock or the system's own; this only bounds
how long a test waits for work it cannot observe by an event (a subprocess, a server's
thread, a row another process writes). It never orders a race and never proves that
something did *not* happen: use an event or a barrier for those.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: how often the condition is asked again; short, since the wait ends as soon as it holds
INTERVAL = 0.05


def eventually(condition: Callable[[], T], timeout: float = 10.0,
               what: str = "the condition", interval: float = INTERVAL) -> T:
    """Return ``condition()``'s first truthy value; fail after ``timeout`` seconds.

    The pause is an ``Event.wait``, not ``time.sleep``, so tests that patch ``time.sleep``
    (a fake clock's) do not turn this loop into a busy one.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(interval)


def first_line(path: Path, timeout: float = 20.0, what: str = "a line") -> str:
    """The first whole line another process wrote to ``path``.

    A file appears when the writer opens it, a moment before its line is in it, so waiting
    for the file alone can read it empty.
    """
    def written() -> str:
        text = path.read_text() if path.exists() else ""
        return text.split("\n", 1)[0] if "\n" in text else ""

    return eventually(written, timeout, what)
