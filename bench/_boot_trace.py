"""Boot milestones of a benchmark worker, for ``boot_bench.py`` (``OUTLAST_BOOT_TRACE=path``).

Wraps a few supervisor methods from outside, so the same trace works on any checkout of
Outlast (an old one in a second worktree included): each milestone's first occurrence is
appended to ``path`` as ``name epoch_seconds``, one O_APPEND write, at once (the worker is
stopped by a signal). Installed by ``run_worker.py`` in the supervisor only.

Milestones (whichever exist in the code measured):
``main``           run_worker.py started (interpreter up, before its imports)
``imports``        run_worker.py's imports done
``store``          store opened (and migrated: SQLite)
``run``            Supervisor.run entered
``fork_server``    the fork server answered: the first child process exists
``ready``          the first child reported Ready (task modules imported)
``registered``     task definitions and version registered
``claimed``        the first claim that returned runs
``finished``       the first run finished (its Finished message read)
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from typing import Any

_seen: set[str] = set()
_path: str | None = None


def mark(name: str) -> None:
    """Record ``name`` at its first occurrence (no-op when no trace is asked for)."""
    if _path is None or name in _seen:
        return
    _seen.add(name)
    fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{name} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


def start(path: str | None) -> None:
    """Trace into ``path`` from now on (None: no trace)."""
    global _path
    _path = path


def install() -> None:
    """Wrap the supervisor's boot steps (call after importing Outlast)."""
    if _path is None:
        return
    from outlast.engine import Engine
    from outlast.worker import pool
    from outlast.worker.supervisor import Supervisor

    _after(pool.Child, "__init__", lambda *_: mark("fork_server"))
    _after(Supervisor, "run", None, before=lambda *_: mark("run"))
    _after(Supervisor, "_on_ready", lambda *_: mark("ready"))
    _after(Supervisor, "_on_finished", lambda *_: mark("finished"))
    _after(Supervisor, "_register_definitions",
           lambda sup, *_: mark("registered") if getattr(sup, "tasks_registered", False)
           else None)
    _after(Engine, "record_and_claim",
           lambda _engine, result, *_: mark("claimed") if result[1].rows else None)


def _after(cls: type, name: str, then: Callable[..., Any] | None,
           before: Callable[..., Any] | None = None) -> None:
    original = getattr(cls, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if before is not None:
            before(self)
        result = original(self, *args, **kwargs)
        if then is not None:
            then(self, result)
        return result

    setattr(cls, name, wrapper)
