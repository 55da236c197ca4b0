"""Tools and an agent the worker-level tool tests run."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from outlast import Retry, step, task, tools


@dataclass
class City:
    city: str


@task(id="tw.weather")
def weather(query: City) -> dict[str, Any]:
    """The temperature in a city."""
    return {"city": query.city, "temp_c": len(query.city)}


@task(id="tw/broken", retry=Retry(max_attempts=1))
def broken(payload: Any) -> None:
    raise ValueError("no station there")


@task(id="tw-slow")
def slow(payload: dict[str, Any]) -> str:
    """Runs until the file ``release`` names exists."""
    while not Path(payload["release"]).exists():
        time.sleep(0.05)
    return "done"


toolset = tools.Toolset(weather, broken, slow)


@task(id="tw-crashing-agent", retry=Retry(max_attempts=3, min_delay=0.2, randomize=False))
def crashing_agent(payload: dict[str, Any]) -> list[Any]:
    """Calls two tools, then its process dies once (``marker`` not there yet): the next
    attempt replays the tool calls from the journal."""
    results = toolset.call(payload["calls"])
    marker = Path(payload["marker"])
    if not marker.exists():
        marker.touch()
        os._exit(9)
    step.run("after", lambda: None)
    return [[r.message, r.run_id] for r in results]
