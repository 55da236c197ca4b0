"""Short-lived public tokens: read-only realtime access to one run or one tag, for browsers.

A backend holding an API key asks ``POST /api/v1/auth/public-tokens`` for a token and
hands it to a frontend, which may then subscribe to that run (or to runs with that tag)
and read its streams, and do nothing else. A token is ``olpt_<claims>.<signature>``:
base64url JSON claims (environment, scope, expiry) signed with HMAC-SHA256. The key is
``OUTLAST_SECRET`` when set (give every server the same value), else a random secret
created once and kept in the database, so several servers agree without configuration.
Tokens cannot be revoked; keep their lifetime short (default 15 minutes, at most 30 days).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outlast.errors import AuthError, ForbiddenError, ValidationError
from outlast.ids import new_secret

if TYPE_CHECKING:
    from outlast.engine import Engine

PREFIX = "olpt_"
DEFAULT_TTL = 15 * 60.0
MAX_TTL = 30 * 24 * 3600.0
_SECRET_NAME = "public_tokens"
_secrets: dict[int, bytes] = {}


@dataclass(frozen=True)
class Scope:
    """What a public token may read: one run, or the runs carrying one tag."""

    environment: str
    run_id: str | None = None
    tag: str | None = None

    def allows_run(self, run_id: str, tags: list[str]) -> bool:
        return self.run_id == run_id if self.run_id is not None else self.tag in tags


def is_public_token(credential: str) -> bool:
    return credential.startswith(PREFIX)


def server_secret(engine: Engine) -> bytes:
    """``OUTLAST_SECRET``, or the database's own secret (created by the first server)."""
    configured = os.environ.get("OUTLAST_SECRET")
    if configured:
        return configured.encode()
    cached = _secrets.get(id(engine))
    if cached is None:
        with engine.store.transaction() as tx:
            tx.run("insert_server_secret", name=_SECRET_NAME, value=new_secret(),
                   now=engine.clock.now())
            row = tx.one("get_server_secret", name=_SECRET_NAME)
        assert row is not None
        cached = _secrets[id(engine)] = str(row["value"]).encode()
    return cached


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, scope: Scope, expires_at: float) -> str:
    claims = {"env": scope.environment, "run_id": scope.run_id, "tag": scope.tag,
              "exp": round(expires_at, 3)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    return f"{PREFIX}{body}.{signature}"


def verify(secret: bytes, token: str, now: float | None = None) -> Scope:
    """The token's scope; AuthError when it is forged, malformed or expired."""
    body, _, signature = token.removeprefix(PREFIX).partition(".")
    expected = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise AuthError("invalid public token")
    try:
        claims: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        raise AuthError("invalid public token") from None
    if float(claims.get("exp", 0)) <= (time.time() if now is None else now):
        raise AuthError("public token expired")
    return Scope(str(claims["env"]), claims.get("run_id"), claims.get("tag"))


def scope_from_request(environment: str, body: dict[str, Any]) -> Scope:
    scope = body.get("scope")
    if not isinstance(scope, dict) or set(scope) - {"run_id", "tag"} or len(scope) != 1:
        raise ValidationError('scope must be {"run_id": "..."} or {"tag": "..."}')
    [(kind, value)] = scope.items()
    if not isinstance(value, str) or not value:
        raise ValidationError(f"scope.{kind} must be a non-empty string")
    return Scope(environment, **{kind: value})


def forbidden(what: str) -> ForbiddenError:
    return ForbiddenError(f"this public token does not allow {what}")
