"""API keys beyond creating one: listing (prefixes only) and revoking.

A revoked key stops working at once for new lookups; server processes that cached it
keep accepting it for at most their cache's few seconds (see ``server/auth.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from outlast.errors import NotFoundError

if TYPE_CHECKING:
    from outlast.engine import Engine


def list_keys(engine: Engine, env: str | None = None) -> list[dict[str, Any]]:
    """Id, environment, the key's first characters, and when it was created or revoked."""
    with engine.store.transaction(write=False) as tx:
        return [dict(r) for r in tx.all("list_api_keys", environment=env)]


def revoke_key(engine: Engine, key: str) -> None:
    """Revoke a key by its id (``key_…``) or its printed prefix; NotFoundError if none."""
    with engine.store.transaction() as tx:
        changed = tx.run("revoke_api_key", key=key, now=engine.clock.now())
    if changed == 0:
        raise NotFoundError(f"no active API key {key!r} (give its id or prefix from "
                            "`outlast keys list`)")
