"""The tasks the fault suite runs, copied into its temporary project as ``tasks/``.

Every real execution of a step appends one JSON line to ``$CHAOS_OUT/effects.jsonl``
(run id, step name, attempt number, a fresh nonce, the time it began) and returns
``{"nonce": ..., "attempt": ...}``. The journal then says which execution was recorded,
so the checker can tell a step that ran again after its result was committed (a bug) from
one that ran again because its process died before the journal write (allowed: steps are
at-least-once). Plain runs append to ``plain.jsonl``; they are at-least-once as a whole.

Tasks never fail on their own: a run that ends in any status but COMPLETED failed for a
platform reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
import uuid
from typing import Any

from outlast import Retry, step, task, wait

#: kills cost attempts (a killed child crashes its attempt); never let them run out
RETRY = Retry(max_attempts=100, min_delay=0.1, max_delay=1.0)


def _append(name: str, record: dict[str, Any]) -> None:
    """One ``write`` on an ``O_APPEND`` descriptor: lines from many processes never mix."""
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(os.path.join(os.environ["CHAOS_OUT"], name),
                 os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def effect(run_id: str, attempt: int, name: str, pause: float) -> dict[str, Any]:
    """A step body: log this execution, then work for ``pause`` seconds."""
    nonce = uuid.uuid4().hex
    _append("effects.jsonl", {"run": run_id, "step": name, "attempt": attempt,
                              "nonce": nonce, "t": time.time(), "pid": os.getpid()})
    time.sleep(pause)
    return {"nonce": nonce, "attempt": attempt}


def _step(ctx: Any, name: str, pause: float) -> dict[str, Any]:
    result: dict[str, Any] = step.run(name, effect, ctx.run.id, ctx.attempt.number, name, pause)
    return result


@task(id="chaos-plain", retry=RETRY)
def plain(payload: Any, ctx: Any) -> Any:
    _append("plain.jsonl", {"run": ctx.run.id, "attempt": ctx.attempt.number, "t": time.time()})
    time.sleep(random.uniform(0.05, 0.3))
    return payload


@task(id="chaos-durable", retry=RETRY)
def durable(payload: dict[str, Any], ctx: Any) -> list[str]:
    """Steps with a short in-process wait and, for some runs, a suspending one between."""
    pause = float(payload.get("pause", 0.2))
    out = [_step(ctx, "one", pause)["nonce"]]
    wait.sleep(seconds=0.5)  # under 5 s: keeps the process
    out.append(_step(ctx, "two", pause)["nonce"])
    if payload.get("suspend"):
        wait.sleep(seconds=5)  # the run is WAITING, then resumes on any worker
    out.append(_step(ctx, "three", pause)["nonce"])
    return out


async def aeffect(run_id: str, attempt: int, name: str, pause: float) -> dict[str, Any]:
    """``effect`` awaited: the run shares its process with other async runs."""
    nonce = uuid.uuid4().hex
    _append("effects.jsonl", {"run": run_id, "step": name, "attempt": attempt,
                              "nonce": nonce, "t": time.time(), "pid": os.getpid()})
    await asyncio.sleep(pause)
    return {"nonce": nonce, "attempt": attempt}


@task(id="chaos-async", retry=RETRY)
async def durable_async(payload: dict[str, Any], ctx: Any) -> list[str]:
    """``chaos-durable`` as an async task: its runs share a child (``--async-slots``)."""
    pause = float(payload.get("pause", 0.2))
    out = []
    for name in ("one", "two"):
        result = await step.run_async(name, aeffect, ctx.run.id, ctx.attempt.number, name, pause)
        out.append(result["nonce"])
        await wait.sleep_async(seconds=0.3)  # under 5 s: keeps its slot
    if payload.get("suspend"):
        await wait.sleep_async(seconds=5)  # the run is WAITING, then resumes on any worker
    result = await step.run_async("three", aeffect, ctx.run.id, ctx.attempt.number, "three",
                                  pause)
    out.append(result["nonce"])
    return out


@task(id="chaos-parent", retry=RETRY)
def parent(payload: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """A step, a child run waited for without holding a worker, a step."""
    first = _step(ctx, "before-child", 0.1)["nonce"]
    child = plain.trigger_and_wait({"from": ctx.run.id})
    last = _step(ctx, "after-child", 0.1)["nonce"]
    return {"first": first, "child": child.output, "ok": child.ok, "last": last}
