"""Short-lived public tokens: read-only realtime access to one run or one tag, for browsers.

A backend holding an API key asks ``POST /api/v1/auth/public-tokens`` for a token and
hands it to a frontend, which may then subscribe to that run (or to runs with that tag)
and read its streams, and do nothing else. A token is ``olpt_<claims>.<signature>``:
base64url JSON claims (project, environment, scope, expiry) signed with HMAC-SHA256.

The key is the server secret (``OUTLAST_SECRET``, read once into the config) when set,
else a random secret created once and kept in the database, so several servers agree
without configuration. The project is a random id the database also keeps: projects
that share ``OUTLAST_SECRET`` (one PostgreSQL database, a schema each) still refuse each
other's tokens, and the dashboard's session cookies carry it the same way.
Tokens cannot be revoked; keep their lifetime short (default 15 minutes, at most 30 days).
The same secret derives waitpoint tokens' callback secrets (``waitpoints.token_secret``),
so rotating it invalidates those URLs as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from outlast.errors import AuthError, ForbiddenError, ValidationError
from outlast.ids import new_id, new_secret

if TYPE_CHECKING:
    from outlast.engine import Engine
    from outlast.store.protocol import Tx

PREFIX = "olpt_"
DEFAULT_TTL = 15 * 60.0
MAX_TTL = 30 * 24 * 3600.0
_SECRET_NAME = "public_tokens"
_PROJECT_NAME = "project_id"
_keys: WeakKeyDictionary[Engine, ServerKeys] = WeakKeyDictionary()


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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(keys: ServerKeys, scope: Scope, expires_at: float) -> str:
    claims = {"prj": keys.project, "env": scope.environment, "run_id": scope.run_id,
              "tag": scope.tag, "exp": round(expires_at, 3)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(keys.secret, body.encode(), hashlib.sha256).digest())
    return f"{PREFIX}{body}.{signature}"


def verify(keys: ServerKeys, token: str, now: float | None = None) -> Scope:
    """The token's scope; AuthError when forged, malformed, expired or another project's."""
    body, _, signature = token.removeprefix(PREFIX).partition(".")
    expected = _b64(hmac.new(keys.secret, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        raise AuthError("invalid public token")
    try:
        claims: dict[str, Any] = json.loads(_unb64(body))
    except ValueError:
        raise AuthError("invalid public token") from None
    if not isinstance(claims, dict) or claims.get("prj") != keys.project:
        # same secret, another project (or a token from before tokens named theirs)
        raise AuthError("invalid public token: it was issued by another project")
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
