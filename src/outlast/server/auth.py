"""Bearer API keys → environment.

Keys are stored hashed; ``Engine.authenticate`` looks one up by its hash and compares in
constant time. A hit is remembered for a few seconds so that a busy client does not cost
a database round trip per request; the price is that a revoked key keeps working for at
most ``ttl`` seconds in each server process. Misses are never cached, so a key created a
moment ago works at once.

``outlast dev`` passes its own ``dev_api_key``, accepted for environment ``dev`` without
touching the database.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable

from outlast.engine import Engine, hash_key
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
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def environment(self, authorization: str | None) -> str:
        """The environment of the ``Authorization`` header's key; AuthError if none."""
        key = bearer_key(authorization)
        if self._dev_key and hmac.compare_digest(key.encode(), self._dev_key.encode()):
            return DEV_ENVIRONMENT
        digest = hash_key(key)
        env = self._cached(digest)
        if env is None:
            env = self._engine.authenticate(key)
            if env is None:
                raise AuthError("invalid API key")
            self._remember(digest, env)
        return env

    def _cached(self, digest: str) -> str | None:
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None or hit[1] < self._monotonic():
            return None
        return hit[0]

    def _remember(self, digest: str, env: str) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()  # crude, but bounded: entries are cheap to refill
            self._cache[digest] = (env, self._monotonic() + self._ttl)


def bearer_key(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("missing API key: send 'Authorization: Bearer <key>'")
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise AuthError("malformed Authorization header: expected 'Bearer <key>'")
    return key
