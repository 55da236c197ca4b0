"""``list_queues`` counts queued and running runs per queue in one grouped pass, on both
stores: queues with no runs show zeros, other environments and statuses do not count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from outlast.engine import Engine
from outlast.engine.triggering import Triggered
from outlast.server.dashboard import data


def test_queued_and_running_per_queue(engine: Engine, register: Callable[..., Any],
                                      trigger: Callable[..., Triggered],
                                      dash_tasks: list[str]) -> None:
    register(engine, "prod-task", env="prod")
    for _ in range(3):
        trigger(engine, "hello-world", {})
    for _ in range(2):
        trigger(engine, "typed", {"name": "a"})
    trigger(engine, "hello-world", {}, delay="1h")  # DELAYED: neither queued nor running
    trigger(engine, "prod-task", {}, env="prod")
    engine.claim("dev", "w", ["emails"], 1)
    counts = {q["name"]: (int(q["queued"]), int(q["running"])) for q in data.queues(engine, "dev")}
    assert counts == {"emails": (1, 1), "hello-world": (3, 0)}
    engine.claim("dev", "w", ["hello-world"], 3)
    counts = {q["name"]: (int(q["queued"]), int(q["running"])) for q in data.queues(engine, "dev")}
    assert counts == {"emails": (1, 1), "hello-world": (0, 3)}
