"""A task changed with ``patched``, served by a real worker in ``test_patched_worker``."""

from __future__ import annotations

from typing import Any

from outlast import patched, step, task, wait


@task(id="rp-patched")
def patched_task(payload: Any) -> dict[str, Any]:
    step.run("first", lambda: "first")
    if patched("rp-change"):
        path = step.run("new-path", lambda: "new")
    else:
        path = step.run("old-path", lambda: "old")
    answer = wait.for_token(wait.create_token(timeout="1h"))
    return {"path": path, "approved": answer.ok, "again": patched("rp-change")}
