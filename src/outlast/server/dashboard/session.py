"""The dashboard's session: a signed cookie holding the environment and a CSRF token.

The cookie is ``base64(json).hmac`` with SHA-256 over a server secret
(``OUTLAST_SECRET_KEY``; without it, a random secret per process, so sessions end when
the server restarts and several servers behind one address need the variable set). It
holds the environment and the hash of the API key that opened it, never the key; the
key is looked up again on every request so a revoked key ends its sessions at once.

Every POST form carries the session's CSRF token, compared in constant time. The cookie
is ``HttpOnly`` and ``SameSite=Lax`` on top of that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

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
    """Signs and checks session cookies with one secret."""

    def __init__(self, secret: str | None = None) -> None:
        secret = secret or os.environ.get("OUTLAST_SECRET_KEY") or secrets.token_hex(32)
        self._key = hashlib.sha256(b"outlast-dashboard-session:" + secret.encode()).digest()

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()
                                        ).decode().rstrip("=")

    def dumps(self, data: dict[str, Any], now: float | None = None) -> str:
        stamped = dict(data, iat=int(now if now is not None else time.time()))
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
        issued = data.pop("iat", 0) if isinstance(data, dict) else 0
        if not isinstance(data, dict) or not isinstance(issued, int):
            return {}
        if (now if now is not None else time.time()) - issued > MAX_AGE:
            return {}
        return data

    def load(self, request: Request) -> Session:
        return Session(self.loads(request.cookies.get(COOKIE)))

    def save(self, session: Session, request: Request, response: Response) -> None:
        if not session.changed:
            return
        response.set_cookie(COOKIE, self.dumps(session.data), max_age=MAX_AGE, path="/",
                            httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
