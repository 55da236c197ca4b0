"""Tasks whose payloads, outputs, step results and waits are larger than the blob
threshold: the worker hands them whole to the task function and keeps what it returns."""

from __future__ import annotations

from typing import Any

from outlast import Retry, step, task, wait


@task(id="blob-measure")
def measure(payload: dict[str, Any]) -> dict[str, Any]:
    """What the task function got: the payload's size and its ends."""
    data = payload["data"]
    return {"length": len(data), "head": data[:8], "tail": data[-8:]}


@task(id="blob-make", retry=Retry(max_attempts=1))
def make(payload: dict[str, Any]) -> str:
    """An output of ``size`` characters."""
    return str(payload["fill"]) * int(payload["size"])


@task(id="blob-step-and-token")
def step_and_token(payload: dict[str, Any]) -> dict[str, Any]:
    """A large step result, then a wait for a token completed with a large value: the run
    resumes by replay, reading both back from the journal."""
    made = step.run("make", lambda: "s" * int(payload["size"]))
    token = wait.create_token(timeout="1h")
    answer = wait.for_token(token)
    return {"step": len(made), "step_head": made[:3],
            "token": len(answer.output["data"]), "token_head": answer.output["data"][:3]}


@task(id="blob-parent")
def parent(payload: dict[str, Any]) -> dict[str, Any]:
    """A child's large output, as ``trigger_and_wait`` gives it to its parent."""
    result = make.trigger_and_wait({"fill": "c", "size": payload["size"]})
    output = result.unwrap()
    return {"length": len(output), "head": output[:3]}
