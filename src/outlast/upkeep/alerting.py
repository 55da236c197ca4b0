"""The alert sender: a thread beside the upkeep loop that moves the alert outbox.

It works only while its process holds the upkeep lease, so one process sends, a server or
a worker alike; it has its own thread so a receiver that answers slowly delays other
alerts, never the sweep. Its database work goes through the engine's store, which gives
each thread its own connection (SQLite) or a pooled one (PostgreSQL).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx

from outlast.engine import Engine
from outlast.engine.alerts import Alerts

log = logging.getLogger("outlast.alerts")

INTERVAL = 0.5
TIMEOUT = 10.0


def post(url: str, body: bytes, headers: dict[str, str]) -> None:
    response = httpx.post(url, content=body, headers=headers, timeout=TIMEOUT)
    if response.status_code >= 300:
        raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


class AlertSender:
    def __init__(self, engine: Engine, leading: Callable[[], bool],
                 interval: float = INTERVAL) -> None:
        self.alerts = Alerts(engine)
        self._leading = leading
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="outlast-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._leading():
                continue
            try:
                self.alerts.enqueue()
                self.alerts.deliver(post)
            except Exception:
                log.exception("alert pass failed; retrying")
