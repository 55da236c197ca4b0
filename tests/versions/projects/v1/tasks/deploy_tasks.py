"""Release 1 of a project: task ``a``, and ``waits``, which waits for a token."""

from __future__ import annotations

from typing import Any

from outlast import task, wait


@task(id="a")
def a(payload: Any) -> str:
    return "v1"


@task(id="waits")
def waits(payload: dict[str, Any]) -> str:
    wait.for_token(payload["token"])
    return "v1"
