"""What every request passes before the app: its Host, its Origin, its body's pace.

- **Host.** ``outlast dev`` binds 127.0.0.1 and asks for no login, so a web page on
  another site could reach it through DNS rebinding (its own name, pointed at 127.0.0.1)
  if any ``Host`` were accepted: only the names the server is meant to be reached by are
  (``allowed_hosts``). ``/healthz`` and ``/readyz`` answer any host: load balancers probe
  them by address, and they tell a foreign page nothing. So does ``/metrics``, which
  scrapers reach by address too: it asks for an API key a foreign page does not have
  (unless made public on purpose, for a private network).
- **Origin.** A browser names the page behind a POST, PUT, PATCH or DELETE in ``Origin``;
  one from another site than the ``Host`` it was sent to is refused, unless it is the
  server's public URL (``OUTLAST_PUBLIC_URL``): a reverse proxy may send its own ``Host``
  (nginx's default is the upstream's address) while the browser names the public site.
  Clients that send no ``Origin`` (curl, the SDK, webhooks) are not browsers and pass.
- **Body pace.** A stranger may open a request and send its body a byte a minute, holding
  a connection and a handler as long as they like; uvicorn has no timeout for that. The
  body must arrive within ``body_timeout`` of its first read, else the request is
  answered 408 and the app sees the client as gone.
- **Headers.** Every answer forbids framing (``X-Frame-Options``, CSP ``frame-ancestors``);
  pages get a content-security policy that allows only the dashboard's own files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: names of this machine: ``outlast dev`` answers to these only
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
#: seconds a request's whole body may take to arrive
BODY_TIMEOUT = 60.0
#: probes answered whatever the Host (they say "up" and nothing else; metrics ask for a key)
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: htmx evaluates its trigger filters (``[outlastIdle()]``) and adds an indicator style
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin")]


def host_name(host: str) -> str:
    """``host`` without its port, lower case: ``Example.com:80`` → ``example.com``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def allowed_host_names(public_url: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """Loopback, the public URL's host and ``extra`` names (``*`` in it: any host)."""
    names = set(LOOPBACK_HOSTS)
    if public_url:
        names.add(host_name(urlsplit(public_url).netloc.rpartition("@")[2]))
    names.update(host_name(h) for h in extra if h.strip())
    return frozenset(names)


class RequestGuard:
    """ASGI middleware doing the checks of the module docstring."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None = None,
                 body_timeout: float = BODY_TIMEOUT, public_url: str | None = None) -> None:
        self.app = app
        self.allowed_hosts = allowed_hosts  # None: any host (an app embedded in tests)
        self.body_timeout = body_timeout
        #: the public URL's host and port: the server's own site, whatever the Host says
        #: (None when it names none, as a URL without a scheme: "" would match ``null``)
        self.public_site = (_site(public_url) if public_url else "") or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        await _Exchange(self.app, scope, receive, send, self.body_timeout).run()

    def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        if (self.allowed_hosts is not None and "*" not in self.allowed_hosts
                and scope["path"] not in OPEN_PATHS
                and host_name(host) not in self.allowed_hosts):
            return (400, "invalid_host", f"this server does not answer to the host name "
                    f"{host_name(host)!r}; set OUTLAST_PUBLIC_URL or OUTLAST_ALLOWED_HOSTS "
                    "to the name clients use")
        origin = headers.get("origin")
        if (scope["method"] in _STATE_CHANGING and origin is not None
                and not same_origin(origin, host)
                and (self.public_site is None or _site(origin) != self.public_site)):
            return (403, "forbidden", "cross-site request refused: its Origin is not this "
                    "server")
        return None


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's ``Origin`` names the host (and port) the request went to."""
    netloc = _site(origin)
    return bool(netloc) and netloc == host.strip().lower()


def _site(url: str) -> str:
    """The host and port of ``url``, lower case ("" for ``null``)."""
    return urlsplit(url.strip()).netloc.rpartition("@")[2].lower()


class _Exchange:
    """One request: its body read under a deadline, its answer given security headers."""

    def __init__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send,
                 timeout: float) -> None:
        self.app, self.scope, self._receive, self._send = app, scope, receive, send
        self.timeout = timeout
        self.deadline: float | None = None
        self.timed_out = False
        self.body_done = False
        self.started = False

    async def run(self) -> None:
        try:
            await self.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.timed_out:
                raise
            # the app met the disconnect we made up for it; the 408 says what happened
        if self.timed_out and not self.started:
            await self._answer_timeout()

    async def receive(self) -> Message:
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.body_done:  # later reads wait for a disconnect (event streams): no deadline
            return await self._receive()
        now = anyio.current_time()
        if self.deadline is None:
            self.deadline = now + self.timeout
        with anyio.move_on_after(max(0.0, self.deadline - now)):
            message = await self._receive()
            self.body_done = not message.get("more_body", False)
            return message
        # too slow: to the app the client has gone; it gets a 408 instead of an answer
        self.timed_out = True
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.timed_out and not self.started:
            return  # whatever the app says to a "gone" client, the client gets the 408
        if message["type"] == "http.response.start":
            self.started = True
            message = dict(message, headers=with_security_headers(message.get("headers", [])))
        await self._send(message)

    async def _answer_timeout(self) -> None:
        self.started = True
        await _answer(self._send, 408, "request_timeout",
                      f"the request body did not arrive within {self.timeout:g} seconds",
                      close=True)


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` plus the anti-framing ones, and the CSP on an HTML page."""
    out = list(headers)
    names = {name.lower() for name, _ in out}
    out.extend(h for h in SECURITY_HEADERS if h[0] not in names)
    if b"content-security-policy" not in names:
        html = any(n.lower() == b"content-type" and v.startswith(b"text/html") for n, v in out)
        policy = CONTENT_SECURITY_POLICY if html else "frame-ancestors 'none'"
        out.append((b"content-security-policy", policy.encode()))
    return out


async def _answer(send: Send, status: int, code: str, message: str, *,
                  close: bool = False) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status,
                "headers": with_security_headers(headers)})
    await send({"type": "http.response.body", "body": body})
