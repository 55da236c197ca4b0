"""The client ``settings.OUTLAST`` describes, connected on its first call.

Django imports every installed app for any ``manage.py`` command (``makemigrations``,
``check``…) and in the worker's fork server: a client opened at ``ready()`` would hold a
database pool in each of those processes for nothing, and one inherited by forked
children is a shared socket. This one opens its connection when it first sends a call.

Unlike ``Client(database_url=...)`` on SQLite, it never migrates the database: its first
call may come inside a request's ``atomic()`` block, whose transaction holds SQLite's
write lock (a migration waiting for it would wait for itself). ``manage.py
outlast_migrate`` creates Outlast's tables, and ``manage.py outlast_worker`` brings a
SQLite file up to date as it starts.
"""

from __future__ import annotations

import threading

from outlast.core.settings import project_settings
from outlast.engine import Engine
from outlast.sdk.client import Client
from outlast.sdk.registry import default_registry
from outlast.sdk.transports import LocalTransport, Transport
from outlast.store import open_store


class _Unopened:
    """Stands for the transport until the first call opens the real one."""

    def send(self, call: object) -> object:
        raise AssertionError("never sent: SettingsClient opens its transport first")

    def close(self) -> None:
        pass


class SettingsClient(Client):
    """``Client(database_url=..., environment=...)`` that connects on its first call."""

    def __init__(self, database_url: str, environment: str) -> None:
        self.database_url = database_url
        self.environment = environment
        self._lock = threading.Lock()
        self._opened: Transport | None = None
        super().__init__(transport=_Unopened())

    @property
    def transport(self) -> Transport:
        with self._lock:
            if self._opened is None:
                engine = Engine(open_store(self.database_url), settings=project_settings())
                self._opened = LocalTransport(engine, self.environment, default_registry,
                                              owns_engine=True)
            return self._opened

    @transport.setter
    def transport(self, value: Transport) -> None:
        """Set by ``Client.__init__``: the real transport is opened on first use instead."""

    def close(self) -> None:
        with self._lock:
            if self._opened is not None:
                self._opened.close()
                self._opened = None
