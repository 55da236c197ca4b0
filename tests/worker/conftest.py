"""Fixtures of the worker tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from outlast.engine import Engine
from outlast.worker.supervisor import Supervisor


@pytest.fixture
def supervisor(engine: Engine, register: Callable[..., Any]) -> Iterator[Supervisor]:
    """A supervisor without children for task "job", driven pass by pass by the test."""
    register(engine, "job")
    sup = Supervisor(engine, environment="dev", task_dirs=[], root=Path("."), concurrency=1,
                     sweep=False)
    yield sup
    sup._shutdown()  # closes its listener and wake-up pipe
