"""``logger``: structured logs that belong to the run's current attempt.

Inside a worker the attempt installs a sink, and ``logger.info("msg", user=17)`` (as
well as ``print`` and the ``logging`` module, captured by the worker) lands in the run's
logs. Outside a run the same calls go to Python's ``logging`` under ``outlast.task``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

LogSink = Callable[[str, str, dict[str, Any], float], None]

current_sink: ContextVar[LogSink | None] = ContextVar("outlast_log_sink", default=None)
_fallback = logging.getLogger("outlast.task")


class TaskLogger:
    def _emit(self, level: str, message: str, attributes: dict[str, Any]) -> None:
        sink = current_sink.get()
        if sink is None:
            _fallback.log(getattr(logging, level), "%s %s", message, attributes or "")
            return
        sink(level, str(message), attributes, time.time())

    def debug(self, message: str, **attributes: Any) -> None:
        self._emit("DEBUG", message, attributes)

    def info(self, message: str, **attributes: Any) -> None:
        self._emit("INFO", message, attributes)

    def warning(self, message: str, **attributes: Any) -> None:
        self._emit("WARNING", message, attributes)

    def error(self, message: str, **attributes: Any) -> None:
        self._emit("ERROR", message, attributes)


logger = TaskLogger()
