"""Helpers for worker tests: a supervisor in a thread, and waiting for runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from outlast.core.options import parse_options
from outlast.engine import Engine, NewRun
from outlast.worker.supervisor import Supervisor
from tests.eventually import eventually

PROJECT = Path(__file__).parent / "project"


@contextmanager
def running_worker(engine: Engine, concurrency: int = 2, grace: float = 5.0, *,
                   root: Path = PROJECT, probe: str = "hello-world",
                   **kwargs: Any) -> Iterator[Supervisor]:
    """A supervisor on a thread over ``root``'s tasks, once task ``probe`` is registered."""
    sup = Supervisor(engine, environment="dev", task_dirs=["tasks"], root=root,
                     concurrency=concurrency, grace=grace, **kwargs)
    thread = threading.Thread(target=sup.run, daemon=True)
    thread.start()
    try:
        eventually(lambda: registered(engine, probe), 30, "task registration")
        yield sup
    finally:
        sup.request_stop()
        thread.join(30)
        assert not thread.is_alive(), "the supervisor did not stop"


def registered(engine: Engine, task_id: str) -> bool:
    try:
        engine.definition("dev", task_id)
        return True
    except Exception:
        return False


def trigger(engine: Engine, task_id: str, payload: Any = None, **options: Any) -> str:
    request = NewRun(task_id, json.dumps(payload), parse_options(options, engine.clock.now()))
    return str(engine.trigger("dev", request).row["id"])


def wait_final(engine: Engine, run_id: str, timeout: float = 30) -> dict[str, Any]:
    def final() -> dict[str, Any] | None:
        run = engine.retrieve("dev", run_id)
        return run if run["is_final"] else None

    return eventually(final, timeout, f"run {run_id} to finish")


def wait_status(engine: Engine, run_id: str, status: str, timeout: float = 30) -> None:
    eventually(lambda: engine.retrieve("dev", run_id)["status"] == status, timeout,
                f"run {run_id} to be {status}")


def claimed_runs(engine: Engine, register: Any, trigger: Any, n: int) -> list[Any]:
    """``n`` runs of task "job", claimed by "worker-1" (each holds a lease)."""
    register(engine, "job")
    for _ in range(n):
        trigger(engine, "job")
    return engine.claim("dev", "worker-1", None, n)


@contextmanager
def counted_transactions(engine: Engine) -> Iterator[list[bool]]:
    """A list that gains an item for each transaction the store begins meanwhile."""
    transactions: list[bool] = []
    begin = engine.store.transaction

    def counted(*args: Any, **kwargs: Any) -> Any:
        transactions.append(True)
        return begin(*args, **kwargs)

    engine.store.transaction = counted  # type: ignore[method-assign]
    try:
        yield transactions
    finally:
        del engine.store.transaction


class FakeChild:
    """Keeps what the supervisor sends it (a child's pipe, for a supervisor driven pass
    by pass by a test)."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> bool:
        self.sent.append(message)
        return True
