"""The project's keys: the one secret that signs its tokens and sessions, and its id.

The secret is ``OUTLAST_SECRET`` (read once into the process's settings) when set, else a
random secret created once and kept in the database, so several servers agree without
configuration. The project is a random id the database also keeps: projects that share
``OUTLAST_SECRET`` (one PostgreSQL database, a schema each) still refuse each other's
tokens. The same secret signs public tokens (``api/public_tokens.py``) and dashboard
sessions, and derives waitpoint tokens' callback secrets (``waitpoints.token_secret``),
so rotating it invalidates those URLs as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from outlast.ids import new_id, new_secret

if TYPE_CHECKING:
    from outlast.engine import Engine
    from outlast.store.protocol import Tx

_SECRET_NAME = "public_tokens"
_PROJECT_NAME = "project_id"
_keys: WeakKeyDictionary[Engine, ServerKeys] = WeakKeyDictionary()


@dataclass(frozen=True)
class ServerKeys:
    """What signs a project's tokens and sessions, and the project they are bound to."""

    secret: bytes = field(repr=False)
    project: str


def load_keys(engine: Engine, secret: str | None = None) -> ServerKeys:
    """The project's keys: ``secret`` when given, else the database's own; remembered.

    The server calls this once at start with the configured secret; later calls (the
    API's token endpoint, realtime) get the remembered keys.
    """
    with engine.store.transaction() as tx:
        project = _stored(tx, _PROJECT_NAME, new_id("project"), engine)
        stored = None if secret else _stored(tx, _SECRET_NAME, new_secret(), engine)
    keys = ServerKeys((secret or stored or "").encode(), project)
    _keys[engine] = keys
    return keys


def _stored(tx: Tx, name: str, fresh: str, engine: Engine) -> str:
    """The value kept under ``name``; the first server to ask stores ``fresh``."""
    tx.run("insert_server_secret", name=name, value=fresh, now=engine.clock.now())
    row = tx.one("get_server_secret", name=name)
    assert row is not None
    return str(row["value"])


def server_keys(engine: Engine) -> ServerKeys:
    """The keys ``load_keys`` remembered for ``engine``; if none yet (a process that is
    no server: ``Client(database_url=...)``), those of its settings' ``OUTLAST_SECRET``,
    else the database's, so that its tokens are good on the servers of the project."""
    keys = _keys.get(engine)
    return keys if keys is not None else load_keys(engine, engine.settings.secret)
