"""Answering a running task's calls: SDK calls and durable operations, through its worker.

A task's ``runs.retrieve`` or ``metadata.set`` is sent up the child's pipe and answered
here, against the database the worker already holds, so children need no connection of
their own. Errors go back as a reply the child raises; nothing here may stop the loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from outlast.engine import Engine
from outlast.errors import OutlastError
from outlast.sdk.transports import LocalTransport
from outlast.worker import runtime
from outlast.worker.messages import ApiCall, Reply, RuntimeCall

log = logging.getLogger("outlast.worker")


class ChildCalls:
    def __init__(self, engine: Engine, environment: str, flush: Callable[[], None]) -> None:
        self.engine = engine
        self.environment = environment
        self._flush = flush
        self._api = LocalTransport(engine, environment)

    def answer(self, message: ApiCall) -> Reply:
        """An SDK call (trigger, retrieve, …) made from task code."""
        try:
            return Reply(message.request_id, True, self._api.send(message.call))
        except OutlastError as exc:
            return Reply(message.request_id, False, error=exc.to_dict(), status=exc.http_status)
        except Exception as exc:
            log.exception("a task's API call failed")
            return _internal(message.request_id, exc)

    def run_op(self, message: RuntimeCall) -> Reply:
        """A durable operation of a running attempt; the reply unblocks the child."""
        try:
            self._flush()  # logs and results first, so the journal follows them in order
            data = runtime.dispatch(self.engine, self.environment, message.op, message.args)
            return Reply(message.request_id, True, data)
        except OutlastError as exc:
            return Reply(message.request_id, False, error=exc.to_dict(), status=exc.http_status)
        except Exception as exc:
            log.exception("durable operation %s failed", message.op)
            return _internal(message.request_id, exc)


def _internal(request_id: int, exc: Exception) -> Reply:
    return Reply(request_id, False, status=500,
                 error={"code": "internal_error", "message": str(exc)})
