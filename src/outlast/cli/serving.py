"""Running long-lived processes from the command line: sockets, signals, uvicorn.

The listening socket is bound before anything else starts, so a busy port is a clear
error up front rather than a uvicorn log line after the worker has already begun.
"""

from __future__ import annotations

import logging
import re
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from outlast.cli.output import note
from outlast.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

    from outlast.config import Config

_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound socket for ``host:port``; ConfigError naming the port if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # SO_REUSEADDR lets a restart reuse a port in TIME_WAIT; on Linux it still refuses a
    # port that another process is listening on, which is the error we want to report.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror} (is another "
                          "Outlast server running? choose a port with --port)") from None
    sock.set_inheritable(True)
    return sock


def dev_hosts(host: str) -> frozenset[str]:
    """``outlast dev`` answers to loopback names, and to ``--host`` when it names one."""
    from outlast.server.guard import allowed_host_names

    return allowed_host_names(None, [] if host in _WILDCARDS else [host])


def server_hosts(config: Config) -> frozenset[str]:
    """``outlast server``: loopback, the public URL's host, ``OUTLAST_ALLOWED_HOSTS``."""
    from outlast.server.guard import allowed_host_names

    return allowed_host_names(config.public_url, config.allowed_hosts)


def public_url(host: str, port: int) -> str:
    """The URL clients should use: wildcard binds are reached through loopback."""
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


#: seconds a stopping server gives open requests before cutting them
GRACEFUL_SHUTDOWN = 3


def uvicorn_server(app: Any, host: str, port: int, *, access_log: bool,
                   log_level: str = "info") -> uvicorn.Server:
    import uvicorn  # not at the top: `outlast worker` uses this module and serves no HTTP

    # event streams (API subscribers, open dashboard pages) never end by themselves:
    # after this long a stopping server cuts them instead of waiting for the browsers
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            access_log=access_log, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)
    # after Config: it sets up uvicorn's loggers, keeping filters already on them
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in access.filters):
        access.addFilter(RedactSecrets())
    return uvicorn.Server(config)


#: a token's callback secret (a path segment) and a public token in the query string
_SECRETS_IN_URLS = [
    (re.compile(r"(/callback/)[^/?#\s\"]+"), r"\1***"),
    (re.compile(r"([?&]access_token=)[^&#\s\"]*", re.IGNORECASE), r"\1***"),
]


def redact_secrets(text: str) -> str:
    """``text`` (a request line, a path) with the secrets URLs may carry masked."""
    for pattern, replacement in _SECRETS_IN_URLS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Masks secrets in uvicorn's access lines: its arguments hold the path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        return True


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    # Our own "changed: …; reloading" line says the same, naming the files.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


class ForcedStop(SystemExit):
    """A second Ctrl-C or SIGTERM: stop now instead of draining."""


@contextmanager
def stop_signals(on_stop: Callable[[], None], what: str,
                 draining: str = "finishing running attempts") -> Iterator[None]:
    """SIGINT/SIGTERM once: ``on_stop()`` (a graceful drain); twice: ``ForcedStop``.

    uvicorn replaces these handlers while it serves and re-raises the signal it caught
    once it has shut down; having ours installed underneath means that re-raise lands
    here as the first stop request instead of killing the process mid-drain.
    """
    received = 0

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal received
        received += 1
        if received == 1:
            note(f"stopping {what}: {draining} (again to stop now)")
            on_stop()
        else:
            note(f"stopping {what} now")
            raise ForcedStop(130)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
