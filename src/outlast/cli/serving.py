"""Running long-lived processes from the command line: sockets, signals, uvicorn.

The listening socket is bound before anything else starts, so a busy port is a clear
error up front rather than a uvicorn log line after the worker has already begun.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from outlast.cli.output import note
from outlast.errors import ConfigError

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


def public_url(host: str, port: int) -> str:
    """The URL clients should use: wildcard binds are reached through loopback."""
    host = _WILDCARDS.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


#: seconds a stopping server gives open requests before cutting them
GRACEFUL_SHUTDOWN = 3


def uvicorn_server(app: Any, host: str, port: int, *, access_log: bool,
                   log_level: str = "info") -> uvicorn.Server:
    # event streams (API subscribers, open dashboard pages) never end by themselves:
    # after this long a stopping server cuts them instead of waiting for the browsers
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            access_log=access_log, lifespan="on",
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)
    return uvicorn.Server(config)


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
