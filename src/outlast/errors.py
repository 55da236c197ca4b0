"""Every error Outlast raises on purpose, under one root.

    OutlastError                      code                  HTTP
    ├── ValidationError               invalid_request       400
    │   ├── PayloadTooLargeError      payload_too_large     413
    │   └── UnknownVersionError       unknown_version       400
    ├── NotFoundError                 not_found             404
    │   ├── TaskNotFoundError         task_not_found        404
    │   ├── RunNotFoundError          run_not_found         404
    │   └── ScheduleNotFoundError     schedule_not_found    404
    ├── ConflictError                 conflict              409
    │   └── InvalidTransitionError    invalid_transition    409
    ├── AuthError                     unauthorized          401
    │   └── ForbiddenError            forbidden             403
    │       └── InsufficientScopeError insufficient_scope  403
    ├── PlatformUnavailableError      platform_unavailable  503
    ├── ApiError                      (from the server)     any
    ├── TaskRunFailed                 run_failed            -
    ├── ConfigError                   config_error          -
    ├── NonDeterminismError           non_determinism       -     (sdk/durable.py)
    ├── DurableUsageError             durable_usage         400   (sdk/durable.py)
    ├── HookUsageError                hook_usage            -     (worker/lifecycle.py)
    └── WorkerFailed                  worker_failed         -     (worker/supervisor.py)

    AbortTaskRunError  raised by task code: fail now, no further attempts.

Each error has a stable ``code`` so that the HTTP layer maps it to a status in one
place (``server/errors.py``) and the HTTP client maps it back to the same class.
Signals that must not be swallowed by user code (suspension, a hand-back when the
platform is unavailable) derive from ``BaseException`` and live in ``sdk/durable.py``.

``PlatformUnavailableError`` is the platform's trouble, never the task's: the database
is away or busy for a moment. Task code never sees it from a durable operation (the
worker retries it, then hands the attempt back uncharged); from a client it means
"try again shortly".
"""

from __future__ import annotations

from typing import Any


class OutlastError(Exception):
    """Root of every Outlast error."""

    code = "error"
    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON body used by the HTTP API."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def at_item(error: OutlastError, index: int) -> OutlastError:
    """``error`` naming the batch item it is about (``item``, counted from 0), once: which
    of up to a thousand items to mend."""
    if "item" not in error.details:
        error.details["item"] = index
        error.message = f"item {index}: {error.message}"
        error.args = (error.message, *error.args[1:])
    return error


class ValidationError(OutlastError):
    """Bad input: a malformed payload, option or argument."""

    code = "invalid_request"
    http_status = 400


class PayloadTooLargeError(ValidationError):
    """A payload or output larger than the documented limit."""

    code = "payload_too_large"
    http_status = 413


class UnknownVersionError(ValidationError):
    """A run pinned to a version that is not registered, or that lacks its task."""

    code = "unknown_version"


class NotFoundError(OutlastError):
    code = "not_found"
    http_status = 404


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class RunNotFoundError(NotFoundError):
    code = "run_not_found"


class ScheduleNotFoundError(NotFoundError):
    code = "schedule_not_found"


class ConflictError(OutlastError):
    code = "conflict"
    http_status = 409


class InvalidTransitionError(ConflictError):
    """A state change that the run's current status does not allow (or a stale lease)."""

    code = "invalid_transition"


class AuthError(OutlastError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(AuthError):
    """A valid credential that does not allow this request (a public token's scope)."""

    code = "forbidden"
    http_status = 403


class InsufficientScopeError(ForbiddenError):
    """A valid API key whose scope (``read``, ``trigger``) does not cover the request;
    ``details["needed"]`` names the scope that would (see ``core/key_scopes.py``)."""

    code = "insufficient_scope"


class ConfigError(OutlastError):
    code = "config_error"


class PlatformUnavailableError(OutlastError):
    """The database is unreachable or busy for now (a restart, a lost connection, a lock).

    ``details`` may say ``retry_after`` (seconds) and, for a running attempt's durable
    operation, ``hand_back`` (stop trying: the attempt goes back to the queue uncharged).
    """

    code = "platform_unavailable"
    http_status = 503


class ApiError(OutlastError):
    """An error answer from an Outlast server that maps to no local class."""

    def __init__(self, message: str, code: str, http_status: int, **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code
        self.http_status = http_status


class TaskRunFailed(OutlastError):
    """Raised by ``TaskRunResult.unwrap()`` when the child run did not complete."""

    code = "run_failed"

    def __init__(self, run_id: str, status: str, error: dict[str, Any] | None) -> None:
        message = (error or {}).get("message") or f"run {run_id} ended {status}"
        super().__init__(message, run_id=run_id, status=status)
        self.run_id = run_id
        self.status = status
        self.error = error


class AbortTaskRunError(Exception):
    """Raise from task code to fail the run now, without further attempts."""


_BY_CODE: dict[str, type[OutlastError]] = {
    cls.code: cls
    for cls in (
        ValidationError,
        PayloadTooLargeError,
        UnknownVersionError,
        NotFoundError,
        TaskNotFoundError,
        RunNotFoundError,
        ScheduleNotFoundError,
        ConflictError,
        InvalidTransitionError,
        AuthError,
        ForbiddenError,
        InsufficientScopeError,
        PlatformUnavailableError,
    )
}


def error_from_body(body: dict[str, Any], http_status: int) -> OutlastError:
    """Turn a server's JSON error back into the matching local error class."""
    code = str(body.get("code", "error"))
    message = str(body.get("message", "unknown error"))
    details = body.get("details") or {}
    cls = _BY_CODE.get(code)
    if cls is None:
        return ApiError(message, code=code, http_status=http_status, **details)
    return cls(message, **details)
