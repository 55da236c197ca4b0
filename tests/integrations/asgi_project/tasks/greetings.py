"""The task the FastAPI app's in-process worker runs."""

from __future__ import annotations

import time
from typing import Any

from outlast import task


@task(id="greet")
def greet(payload: dict[str, Any]) -> str:
    return f"Hello, {payload['name']}!"


@task(id="nap")
def nap(payload: dict[str, Any]) -> None:
    """Still running when the app shuts down: handed back to the queue."""
    time.sleep(600)
