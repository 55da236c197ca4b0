"""What the two dialects' stores do alike, written once; each adds its connections.

A dialect's store subclasses ``BaseStore`` and supplies ``transaction`` (wrapping its own
in ``one_transaction`` and announcing commits with ``announce``), ``migrate``, ``listen``
and ``close``, plus the flags ``protocol.Store`` declares.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from outlast.store.protocol import NestedTransactionError


class BaseStore:
    dialect: str
    embedded: bool
    serial_writes: bool
    concurrency: int

    def __init__(self, url: str) -> None:
        self.url = url
        self._local_listeners: list[Callable[[str, str], None]] = []
        self._open = threading.local()  # ``.tx``: this thread has a transaction open

    @contextmanager
    def one_transaction(self) -> Iterator[None]:
        """Mark this thread's transaction open; a second one inside it is refused.

        Nested, SQLite would join the outer transaction (the inner one's notifications
        would go with neither) and PostgreSQL would take a second pooled connection that
        waits on the first one's row locks.
        """
        self.open_one()
        try:
            yield
        finally:
            self.close_one()

    def open_one(self) -> None:
        """``one_transaction``'s start, for a store whose transaction is a class: mark this
        thread's transaction open, or refuse a second one. ``close_one`` must follow."""
        if getattr(self._open, "tx", False):
            raise NestedTransactionError(
                "a transaction is already open on this thread; pass its Tx down")
        self._open.tx = True

    def close_one(self) -> None:
        self._open.tx = False

    def announce(self, notifications: Iterable[tuple[str, str]]) -> None:
        """Tell this process's local listeners of a commit's notifications."""
        for channel, payload in notifications:
            for callback in list(self._local_listeners):
                callback(channel, payload)

    def add_local_listener(self, callback: Callable[[str, str], None]) -> None:
        self._local_listeners.append(callback)

    def remove_local_listener(self, callback: Callable[[str, str], None]) -> None:
        if callback in self._local_listeners:
            self._local_listeners.remove(callback)
