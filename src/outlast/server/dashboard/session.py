"""The dashboard's session: a signed cookie naming a server-side session, plus CSRF.

The cookie is ``base64(json).hmac`` with SHA-256 over the server secret (the one public
tokens use: ``OUTLAST_SECRET``, else the database's own, so sessions survive restarts and
every server of a project accepts them). It carries the project's id, and a cookie of
another project that shares the secret is no session here. It holds the environment, the
hash of the API key that opened it (never the key: the key is looked up again on every
request, so a revoked key ends its sessions at once) and the id of the session's row in
``dashboard_sessions``: logging out deletes the row, so a copy of the cookie ends too.

Every POST form carries the session's CSRF token, compared in constant time. The cookie
is ``HttpOnly`` and ``SameSite=Lax`` on top of that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from outlast.engine import Engine
from outlast.engine.project_keys import ServerKeys
from outlast.ids import new_secret

COOKIE = "outlast_session"
MAX_AGE = 12 * 3600


@dataclass
class Session:
    data: dict[str, Any] = field(default_factory=dict)
    changed: bool = False

    @property
    def csrf(self) -> str:
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(24)
            self.set("csrf", token)
        return token

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        if self.data.get(key) != value:
            self.data[key] = value
            self.changed = True

    def pop(self, key: str) -> Any:
        if key not in self.data:
            return None
        self.changed = True
        return self.data.pop(key)

    def csrf_ok(self, token: object) -> bool:
        expected = self.data.get("csrf")
        return (isinstance(token, str) and isinstance(expected, str)
                and hmac.compare_digest(token.encode(), expected.encode()))


class Signer:
    """Signs and checks one project's session cookies with its server keys."""

    def __init__(self, keys: ServerKeys) -> None:
        self._project = keys.project
        self._key = hashlib.sha256(b"outlast-dashboard-session:" + keys.secret).digest()

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()
                                        ).decode().rstrip("=")

    def dumps(self, data: dict[str, Any], now: float | None = None) -> str:
        stamped = dict(data, iat=int(now if now is not None else time.time()),
                       prj=self._project)
        body = base64.urlsafe_b64encode(json.dumps(stamped, separators=(",", ":")).encode())
        return f"{body.decode()}.{self._mac(body)}"

    def loads(self, cookie: str | None, now: float | None = None) -> dict[str, Any]:
        """The cookie's data, or {} when it is missing, forged or older than MAX_AGE."""
        if not cookie or "." not in cookie:
            return {}
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(body.encode()).encode()):
            return {}
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return {}
        if not isinstance(data, dict) or data.pop("prj", None) != self._project:
            return {}  # signed with the same secret by another project
        issued = data.pop("iat", 0)
        if not isinstance(issued, int):
            return {}
        if (now if now is not None else time.time()) - issued > MAX_AGE:
            return {}
        return data

    def load(self, request: Request) -> Session:
        return Session(self.loads(request.cookies.get(COOKIE)))

    def save(self, session: Session, request: Request, response: Response) -> None:
        if not session.changed:
            return
        # under a prefix the cookie is the dashboard's alone, not the whole site's
        path = request.scope.get("root_path", "").rstrip("/") or "/"
        response.set_cookie(COOKIE, self.dumps(session.data), max_age=MAX_AGE, path=path,
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")


# -- the server-side record ---------------------------------------------------------------


def open_record(engine: Engine, session: Session, environment: str) -> None:
    """Log ``session`` in: a new row (a new id, so an old cookie names nothing live)."""
    now = engine.clock.now()
    sid = new_secret()
    with engine.store.transaction() as tx:
        tx.run("delete_expired_dashboard_sessions", now=now)
        tx.run("insert_dashboard_session", id=sid, environment=environment, now=now,
               expires_at=now + MAX_AGE)
    session.set("sid", sid)


def record_live(engine: Engine, session: Session) -> bool:
    """Whether the session's row is still there (not logged out, not expired)."""
    sid = session.get("sid")
    if not isinstance(sid, str):
        return False
    with engine.store.transaction(write=False) as tx:
        return tx.one("dashboard_session_live", id=sid, now=engine.clock.now()) is not None


def close_record(engine: Engine, session: Session) -> None:
    """Log out: delete the row, so every copy of the cookie is logged out too."""
    sid = session.pop("sid")
    if isinstance(sid, str):
        with engine.store.transaction() as tx:
            tx.run("delete_dashboard_session", id=sid)
