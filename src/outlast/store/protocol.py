"""The narrow interface the engine uses to talk to a database.

The engine never sees SQL: it calls named queries (``tx.one("get_run", id=...)``) whose
text lives in the dialect's ``queries.sql``. Both dialects define the same names (a test
checks it), so the engine's logic is written once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

Row = dict[str, Any]


class Tx(Protocol):
    """One open transaction."""

    def one(self, name: str, /, **params: Any) -> Row | None: ...

    def all(self, name: str, /, **params: Any) -> list[Row]: ...

    def run(self, name: str, /, **params: Any) -> int:
        """Execute and return the number of rows affected."""
        ...

    def many(self, name: str, /, rows: list[dict[str, Any]]) -> None: ...

    def notify(self, channel: str, payload: str = "") -> None:
        """Deliver ``payload`` to listeners of ``channel`` once this transaction commits."""
        ...

    def lazy_commit(self) -> None:
        """Let this transaction's commit return before it is on disk.

        Only for writes whose loss in a database *crash* is harmless (a clean restart
        loses nothing): a worker's claim, which would then simply be claimed again.
        """
        ...


#: a note a listener reports when it knows it missed some: anything may have changed
ANY_CHANNEL = "*"


class Listener(Protocol):
    """Wakes a process when another one wrote something it cares about."""

    def fileno(self) -> int: ...

    def drain(self) -> list[tuple[str, str]]:
        """Pending (channel, payload) notifications; never blocks."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    dialect: str
    url: str
    #: transactions worth running at once from one process (the server sizes its
    #: handler threads by it): more only wait inside the store, at a cost in CPU
    concurrency: int

    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]: ...

    def migrate(self) -> list[str]:
        """Apply pending migrations; return the names applied."""
        ...

    def listen(self, channels: list[str]) -> Listener: ...

    def add_local_listener(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(channel, payload)`` after commits made by this process."""
        ...

    def close(self) -> None: ...

