"""Durable tasks the worker-level tests run: sleeps, tokens, and parents of every kind of
child run (completing, failing, crashing, expiring, canceled)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from outlast import Queue, Retry, batch, task, tasks, wait


@task(id="dw-sleep")
def sleep_then(payload: dict[str, Any]) -> dict[str, Any]:
    wait.sleep(seconds=payload["seconds"])
    return {"slept": payload["seconds"]}


@task(id="dw-token")
def token_waiter(payload: dict[str, Any] | None) -> dict[str, Any]:
    payload = payload or {}
    token = wait.create_token(timeout=payload.get("timeout"), tags=payload.get("tags"))
    answer = wait.for_token(token)
    return {"ok": answer.ok, "output": answer.output, "error": answer.error}


@task(id="dw-token-url")
def token_url_after_resume(payload: Any) -> Any:
    """The URL the replayed ``create_token`` gives after the run resumed (none is stored)."""
    token = wait.create_token()
    wait.for_token(token)
    return token.url


@task(id="dw-ok")
def ok(payload: Any) -> Any:
    return payload


@task(id="dw-fail", retry=Retry(max_attempts=1))
def fail(payload: Any) -> None:
    raise RuntimeError("the child failed")


@task(id="dw-crash", retry=Retry(max_attempts=1))
def crash(payload: Any) -> None:
    os._exit(7)


gate = Queue("dw-gate", concurrency_limit=1)


@task(id="dw-gated", queue=gate)
def gated(payload: dict[str, Any] | None) -> str:
    """Holds the gate queue's only slot until the file ``release`` names exists."""
    release = (payload or {}).get("release")
    while release and not Path(release).exists():
        time.sleep(0.05)
    return "ran"


#: what each kind of child is; "expire" sits behind a held gate with a 1 s ttl, "cancel"
#: waits for a token that only the test's cancel ends
CHILDREN: dict[str, dict[str, Any]] = {
    "ok": {"task": "dw-ok", "payload": {"v": "ü"}},
    "fail": {"task": "dw-fail", "payload": None},
    "crash": {"task": "dw-crash", "payload": None},
    "expire": {"task": "dw-gated", "payload": None, "options": {"ttl": "1s"}},
    "cancel": {"task": "dw-token", "payload": {"tags": ["cancel-me"]}},
}


@task(id="dw-parent")
def parent(payload: dict[str, Any]) -> list[Any]:
    kinds = payload["kinds"]
    if payload.get("batch"):
        results = batch.trigger_and_wait([CHILDREN[k] for k in kinds])
    else:
        results = [tasks.trigger_and_wait(CHILDREN[k]["task"], CHILDREN[k]["payload"],
                                          **CHILDREN[k].get("options", {})) for k in kinds]
    return [[r.ok, r.status, r.output] for r in results]


@task(id="dw-token-batch")
def token_batch(payload: Any) -> list[Any]:
    """The same task three times in one batch (batch_trigger_and_wait)."""
    results = token_waiter.batch_trigger_and_wait(
        [{"payload": {"tags": [f"item-{i}"], "timeout": "1s" if i == 1 else None}}
         for i in range(3)])
    return [[r.ok, r.status, r.output] for r in results]
