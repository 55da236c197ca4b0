"""Reading a live subscription in a thread while the test makes the changes it reports."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any


class Collector:
    """Iterate ``source()`` in a thread and keep what it yields."""

    def __init__(self, source: Callable[[], Iterator[Any]]) -> None:
        self.items: list[Any] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self.thread.start()

    def _run(self, source: Callable[[], Iterator[Any]]) -> None:
        try:
            for item in source():
                self.items.append(item)
        except BaseException as exc:
            self.error = exc

    def join(self) -> list[Any]:
        self.thread.join(30)
        assert not self.thread.is_alive(), f"the subscription did not end: {self.items}"
        if self.error is not None:
            raise self.error
        return self.items
