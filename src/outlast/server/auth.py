"""Bearer API keys → environment, once the key's scope allows the request.

Keys are stored hashed; ``Engine.authenticate`` looks one up by its hash and compares in
constant time. A hit is remembered for a few seconds so that a busy client does not cost
a database round trip per request; the price is that a revoked key keeps working for at
most ``ttl`` seconds in each server process. Misses are never cached, so a key created a
moment ago works at once.

``outlast dev`` passes its own ``dev_api_key``, accepted for environment ``dev`` without
touching the database, as a full key. A key whose scope (``core/key_scopes.py``) does not
cover the request is 403 ``insufficient_scope``, naming the scope it needs.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

from outlast.core.key_scopes import FULL, require
from outlast.engine import Engine, KeyGrant, hash_key
from outlast.errors import AuthError

DEV_ENVIRONMENT = "dev"
CACHE_TTL = 5.0
CACHE_SIZE = 1024


class Authenticator:
    def __init__(
        self,
        engine: Engine,
        dev_api_key: str | None = None,
        ttl: float = CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._dev_key = dev_api_key
        self._ttl = ttl
        self._monotonic = monotonic
        # keyed by the key's hash, so the process never holds raw keys it did not mint
        self._cache: dict[str, tuple[KeyGrant, float]] = {}
        self._lock = threading.Lock()

    def environment(self, authorization: str | None, needs: str = FULL,
                    what: str = "this request") -> str:
        """The environment of the ``Authorization`` header's key: AuthError if none,
        InsufficientScopeError if its scope does not cover ``needs`` (for ``what``)."""
        grant = self.grant(authorization)
        require(grant.scope, needs, what)
        return grant.environment

    def grant(self, authorization: str | None) -> KeyGrant:
        """What the header's key is (AuthError if it is none)."""
        key = bearer_key(authorization)
        if self._dev_key and hmac.compare_digest(key.encode(), self._dev_key.encode()):
            return KeyGrant(DEV_ENVIRONMENT, FULL)
        digest = hash_key(key)
        grant = self._cached(digest)
        if grant is None:
            grant = self._engine.find_key(key)
            if grant is None:
                raise AuthError("invalid API key")
            self._remember(digest, grant)
        return grant

    def _cached(self, digest: str) -> KeyGrant | None:
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None or hit[1] < self._monotonic():
            return None
        return hit[0]

    def _remember(self, digest: str, grant: KeyGrant) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # crude, but bounded: entries are cheap to refill
            self._cache[digest] = (grant, self._monotonic() + self._ttl)


def bearer_key(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise AuthError("malformed Authorization header: expected 'Bearer <key>'")
    return key
