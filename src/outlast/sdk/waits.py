"""``wait``: durable waits for time and for tokens (human-in-the-loop).

Inside a run, waits shorter than five seconds keep the process; longer ones suspend the
run (status WAITING) so it holds no worker slot, and it resumes on any worker by replay.
Outside a run, only tokens can be created, completed and listed (through the client).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from outlast import inputs
from outlast.durations import DurationLike, parse_duration
from outlast.errors import TaskRunFailed, ValidationError
from outlast.sdk.durable import DurableRun, SuspendRun, active, current_run


@dataclass(frozen=True)
class WaitResult:
    """How a token wait ended: ``ok`` with ``output``, or ``error`` (e.g. "timeout")."""

    ok: bool
    output: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WaitResult:
        return cls(ok=bool(data["ok"]), output=data.get("output"), error=data.get("error"))

    def unwrap(self) -> Any:
        if not self.ok:
            raise TaskRunFailed("", "WAIT_FAILED", self.error)
        return self.output


@dataclass(frozen=True)
class Token:
    """A waitpoint token; a POST to ``url`` completes it (no API key: the secret is in it).

    The URL's secret is derived from the token's id with the project's secret and stored
    only as a hash, so every read of the token (``retrieve``, ``list``, the same
    idempotency key again, ``wait.create_token`` replayed after a resume) rebuilds the
    same ``url``. It is None for a token made under a project secret since rotated (that
    URL no longer works) or by a version that drew random secrets (that URL still works).
    """

    id: str
    url: str | None
    status: str = "PENDING"
    tags: list[str] = field(default_factory=list)
    timeout_at: float | None = None
    output: Any = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Token:
        return cls(id=data["id"], url=data.get("url"), status=data.get("status", "PENDING"),
                   tags=list(data.get("tags") or []), timeout_at=data.get("timeout_at"),
                   output=data.get("output"), error=data.get("error"))


def _seconds(delta: timedelta | float | None, seconds: float, minutes: float, hours: float,
             days: float) -> float:
    total = seconds + minutes * 60 + hours * 3600 + days * 86400
    if delta is not None:
        total += parse_duration(delta, "wait.sleep")
    if total < 0:
        raise ValidationError("wait.sleep: the duration must not be negative")
    return inputs.duration(total, "wait.sleep")


def _until_seconds(when: datetime) -> float:
    if not isinstance(when, datetime) or when.tzinfo is None:
        raise ValidationError("wait.until needs a timezone-aware datetime")
    return inputs.time(when.timestamp(), "wait.until")


class _Wait:
    #: how an in-process wait passes time (``outlast.testing`` moves a fake clock instead)
    pause: Callable[[float], None] = staticmethod(time.sleep)

    # -- time ------------------------------------------------------------------------------

    def sleep(self, delta: timedelta | float | None = None, *, seconds: float = 0,
              minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        """Wait for a duration; the run holds no process while it waits (≥ 5 s)."""
        total = _seconds(delta, seconds, minutes, hours, days)
        run = active("wait.sleep")
        run.call("sleep", "sleep", lambda seq: self._sleep(run, seq, "sleep", {"seconds": total}))

    def until(self, when: datetime) -> None:
        """Wait until an aware datetime; a time in the past returns at once."""
        until = _until_seconds(when)
        run = active("wait.until")
        run.call("sleep", "until", lambda seq: self._sleep(run, seq, "until", {"until": until}))

    def _sleep(self, run: DurableRun, seq: int, name: str, args: dict[str, Any]) -> Any:
        answer = run.op("sleep", seq, "sleep", name, **args)
        if answer.get("done"):
            return answer["result"]
        if "pause" in answer:  # short: wait here, then record it
            self.pause(answer["pause"])
            return run.op("record", seq, "sleep", name, result={"until": answer["until"]})
        raise SuspendRun(f"sleeping at #{seq}")

    async def sleep_async(self, delta: timedelta | float | None = None, *, seconds: float = 0,
                          minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        total = _seconds(delta, seconds, minutes, hours, days)
        run = active("wait.sleep_async")
        await run.acall("sleep", "sleep",
                        lambda seq: self._asleep(run, seq, "sleep", {"seconds": total}))

    async def until_async(self, when: datetime) -> None:
        until = _until_seconds(when)
        run = active("wait.until_async")
        await run.acall("sleep", "until",
                        lambda seq: self._asleep(run, seq, "until", {"until": until}))

    async def _asleep(self, run: DurableRun, seq: int, name: str, args: dict[str, Any]) -> Any:
        answer = run.op("sleep", seq, "sleep", name, **args)
        if answer.get("done"):
            return answer["result"]
        if "pause" in answer:
            if self.pause is time.sleep:
                await asyncio.sleep(answer["pause"])
            else:
                self.pause(answer["pause"])
            return run.op("record", seq, "sleep", name, result={"until": answer["until"]})
        raise SuspendRun(f"sleeping at #{seq}")

    # -- tokens ----------------------------------------------------------------------------

    def create_token(self, timeout: DurationLike | None = None, tags: list[str] | None = None,
                     idempotency_key: str | None = None) -> Token:
        """A token that ``for_token`` can wait on; complete it by ``token.url`` or the API."""
        args = _token_args(timeout, tags, idempotency_key)
        run = current_run.get()
        if run is None:
            from outlast.sdk.client import default_client

            return Token.from_dict(default_client().tokens.create(**args))
        return Token.from_dict(run.call(
            "create_token", "token",
            lambda seq: run.op("create_token", seq, "create_token", "token", **args)["result"]))

    async def create_token_async(self, timeout: DurationLike | None = None,
                                 tags: list[str] | None = None,
                                 idempotency_key: str | None = None) -> Token:
        if current_run.get() is None:
            from outlast.sdk.client import default_async_client

            args = _token_args(timeout, tags, idempotency_key)
            return Token.from_dict(await default_async_client().tokens.create(**args))
        return self.create_token(timeout, tags, idempotency_key)

    def for_token(self, token: Token | str) -> WaitResult:
        """Wait until the token is completed (or times out); the run suspends meanwhile."""
        token_id = token.id if isinstance(token, Token) else token
        run = active("wait.for_token")
        return WaitResult.from_dict(run.call("wait_token", token_id,
                                             lambda seq: _wait_token(run, seq, token_id)))

    async def for_token_async(self, token: Token | str) -> WaitResult:
        return self.for_token(token)

    def complete_token(self, token: Token | str, output: Any = None) -> Token:
        """Complete a token from anywhere; completing one twice is a ConflictError."""
        token_id = token.id if isinstance(token, Token) else token
        run = current_run.get()
        if run is None:
            from outlast.sdk.client import default_client

            return Token.from_dict(default_client().tokens.complete(token_id, output))
        return Token.from_dict(run.call(
            "complete_token", token_id,
            lambda seq: _complete_in_run(run, seq, token_id, output)))

    async def complete_token_async(self, token: Token | str, output: Any = None) -> Token:
        token_id = token.id if isinstance(token, Token) else token
        if current_run.get() is None:
            from outlast.sdk.client import default_async_client

            return Token.from_dict(await default_async_client().tokens.complete(token_id, output))
        return self.complete_token(token_id, output)


def _token_args(timeout: DurationLike | None, tags: list[str] | None,
                idempotency_key: str | None) -> dict[str, Any]:
    from outlast.core.options import parse_options

    checked = parse_options({"tags": tags or []}, 0.0)
    return {"timeout": None if timeout is None else parse_duration(timeout, "timeout"),
            "tags": list(checked.tags), "idempotency_key": idempotency_key}


def _wait_token(run: DurableRun, seq: int, token_id: str) -> Any:
    answer = run.op("wait_token", seq, "wait_token", token_id, token_id=token_id)
    if answer.get("done"):
        return answer["result"]
    raise SuspendRun(f"waiting for token {token_id} at #{seq}")


def _complete_in_run(run: DurableRun, seq: int, token_id: str, output: Any) -> Any:
    token = run.runtime("complete_token", {"token_id": token_id, "output": output})
    return run.op("record", seq, "complete_token", token_id, result=token)["result"]


wait = _Wait()
