"""``outlast worker --metrics-port N``: a worker's numbers (``metrics.py``) served.

The page is served by the standard library's HTTP server on a thread of its own, at
``/metrics`` on ``--metrics-host`` (default 127.0.0.1; ``0.0.0.0`` for a scraper on
another machine). It asks for no key: bind it where only the scraper reaches it. A
module of its own so that a worker that serves no metrics loads no HTTP server.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from outlast.core import prometheus as prom
from outlast.errors import ConfigError
from outlast.worker.metrics import WorkerMetrics

log = logging.getLogger("outlast.worker")


class MetricsServer:
    """``GET /metrics`` on its own thread; bound when made, so a busy port is a clear
    error before the worker starts."""

    def __init__(self, metrics: WorkerMetrics, host: str, port: int) -> None:
        handler = type("Handler", (_Handler,), {"metrics": metrics})
        try:
            self._http = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(f"cannot serve worker metrics on {host}:{port}: "
                              f"{exc.strerror} (choose another --metrics-port)") from None
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever,
                                        name="outlast-worker-metrics", daemon=True)

    @property
    def port(self) -> int:
        return int(self._http.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._http.shutdown()
        self._http.server_close()


class _Handler(BaseHTTPRequestHandler):
    metrics: WorkerMetrics

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        if self.path.partition("?")[0] != "/metrics":
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics\n")
            return
        self._send(200, prom.CONTENT_TYPE, self.metrics.render().encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("metrics: " + format, *args)
