"""``wait``: durable waits for time and for tokens (human-in-the-loop).

Inside a run, waits shorter than five seconds keep the process; longer ones suspend the
run (status WAITING) so it holds no worker slot, and it resumes on any worker by replay.
Outside a run, only tokens can be created, completed and listed (through the client).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from outlast import inputs
from outlast.core.durable_requests import (
    CompleteToken,
    CreateToken,
    Op,
    Record,
    SleepFor,
    SleepUntil,
    WaitToken,
)
from outlast.core.records import Token
from outlast.durations import DurationLike, parse_duration
from outlast.errors import TaskRunFailed, ValidationError
from outlast.sdk.durable import DurableRun, SuspendRun, active, current_run, resolved


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
        run.call("sleep", "sleep", lambda at: self._sleep(run, SleepFor(at, total)))

    def until(self, when: datetime) -> None:
        """Wait until an aware datetime; a time in the past returns at once."""
        until = _until_seconds(when)
        run = active("wait.until")
        run.call("sleep", "until", lambda at: self._sleep(run, SleepUntil(at, until)))

    def _sleep(self, run: DurableRun, request: SleepFor | SleepUntil) -> Any:
        answer = run.ask(request)
        if answer.get("done"):
            return answer["result"]
        if "pause" in answer:  # short: wait here, then record it
            run.pausing(request.at)
            self.pause(answer["pause"])
            run.paused(request.at)
            return run.ask(Record(request.at, {"until": answer["until"]},
                                  elapsed=answer["pause"]))
        raise SuspendRun(f"sleeping at #{request.at.seq}")

    async def sleep_async(self, delta: timedelta | float | None = None, *, seconds: float = 0,
                          minutes: float = 0, hours: float = 0, days: float = 0) -> None:
        total = _seconds(delta, seconds, minutes, hours, days)
        run = active("wait.sleep_async")
        await run.acall("sleep", "sleep", lambda at: self._asleep(run, SleepFor(at, total)))

    async def until_async(self, when: datetime) -> None:
        until = _until_seconds(when)
        run = active("wait.until_async")
        await run.acall("sleep", "until", lambda at: self._asleep(run, SleepUntil(at, until)))

    async def _asleep(self, run: DurableRun, request: SleepFor | SleepUntil) -> Any:
        answer = await run.aask(request)
        if answer.get("done"):
            return answer["result"]
        if "pause" in answer:
            await run.apausing(request.at)
            if self.pause is time.sleep:
                await asyncio.sleep(answer["pause"])
            else:
                self.pause(answer["pause"])
            await run.apaused(request.at)
            return await run.aask(Record(request.at, {"until": answer["until"]},
                                  elapsed=answer["pause"]))
        raise SuspendRun(f"sleeping at #{request.at.seq}")

    # -- tokens ----------------------------------------------------------------------------

    def create_token(self, timeout: DurationLike | None = None, tags: list[str] | None = None,
                     idempotency_key: str | None = None) -> Token:
        """A token that ``for_token`` can wait on; complete it by ``token.url`` or the API."""
        args = _token_args(timeout, tags, idempotency_key)
        run = current_run.get()
        if run is None:
            from outlast.sdk.client import default_client

            return default_client().tokens.create(**args)
        return Token.from_dict(run.call(
            "create_token", "token", lambda at: run.ask(CreateToken(at, **args))["result"]))

    async def create_token_async(self, timeout: DurationLike | None = None,
                                 tags: list[str] | None = None,
                                 idempotency_key: str | None = None) -> Token:
        if current_run.get() is None:
            from outlast.sdk.client import default_async_client

            args = _token_args(timeout, tags, idempotency_key)
            return await default_async_client().tokens.create(**args)
        args = _token_args(timeout, tags, idempotency_key)
        run = active("wait.create_token_async")

        async def fresh(at: Op) -> Any:
            return (await run.aask(CreateToken(at, **args)))["result"]

        return Token.from_dict(await run.acall("create_token", "token", fresh))

    def for_token(self, token: Token | str) -> WaitResult:
        """Wait until the token is completed (or times out); the run suspends meanwhile."""
        token_id = token.id if isinstance(token, Token) else token
        run = active("wait.for_token")
        return WaitResult.from_dict(run.call("wait_token", token_id,
                                             lambda at: _wait_token(run, at, token_id)))

    async def for_token_async(self, token: Token | str) -> WaitResult:
        token_id = token.id if isinstance(token, Token) else token
        run = active("wait.for_token_async")

        async def fresh(at: Op) -> Any:
            answer = await run.aask(WaitToken(at, token_id))
            return resolved(answer, f"waiting for token {token_id} at #{at.seq}")

        return WaitResult.from_dict(await run.acall("wait_token", token_id, fresh))

    def complete_token(self, token: Token | str, output: Any = None) -> Token:
        """Complete a token from anywhere; completing one twice is a ConflictError."""
        token_id = token.id if isinstance(token, Token) else token
        run = current_run.get()
        if run is None:
            from outlast.sdk.client import default_client

            return default_client().tokens.complete(token_id, output)
        return Token.from_dict(run.call(
            "complete_token", token_id, lambda at: _complete_in_run(run, at, token_id, output)))

    async def complete_token_async(self, token: Token | str, output: Any = None) -> Token:
        token_id = token.id if isinstance(token, Token) else token
        if current_run.get() is None:
            from outlast.sdk.client import default_async_client

            return await default_async_client().tokens.complete(token_id, output)
        run = active("wait.complete_token_async")

        async def fresh(at: Op) -> Any:
            token = await run.aask(CompleteToken(token_id, output))
            return (await run.aask(Record(at, token)))["result"]

        return Token.from_dict(await run.acall("complete_token", token_id, fresh))


def _token_args(timeout: DurationLike | None, tags: list[str] | None,
                idempotency_key: str | None) -> dict[str, Any]:
    from outlast.core.options import parse_options

    checked = parse_options({"tags": tags or []}, 0.0)
    return {"timeout": None if timeout is None else parse_duration(timeout, "timeout"),
            "tags": list(checked.tags), "idempotency_key": idempotency_key}


def _wait_token(run: DurableRun, at: Op, token_id: str) -> Any:
    answer = run.ask(WaitToken(at, token_id))
    return resolved(answer, f"waiting for token {token_id} at #{at.seq}")


def _complete_in_run(run: DurableRun, at: Op, token_id: str, output: Any) -> Any:
    token = run.ask(CompleteToken(token_id, output))
    return run.ask(Record(at, token))["result"]


wait = _Wait()

__all__ = ["Token", "WaitResult", "wait"]
