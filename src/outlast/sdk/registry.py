"""Which tasks a process knows, and how task modules are found and imported."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outlast.errors import ConfigError, TaskNotFoundError

if TYPE_CHECKING:
    from outlast.sdk.task import Task


class Registry:
    def __init__(self) -> None:
        self._tasks: dict[str, Task[..., Any]] = {}

    def add(self, task: Task[..., Any]) -> None:
        existing = self._tasks.get(task.id)
        if existing is not None and existing.qualname != task.qualname:
            raise ConfigError(
                f"task id {task.id!r} is defined twice: {existing.qualname} and {task.qualname}"
            )
        self._tasks[task.id] = task

    def get(self, task_id: str) -> Task[..., Any]:
        try:
            return self._tasks[task_id]
        except KeyError:
            known = ", ".join(sorted(self._tasks)) or "none"
            raise TaskNotFoundError(
                f"unknown task {task_id!r} (known tasks: {known})", task=task_id
            ) from None

    def find(self, task_id: str) -> Task[..., Any] | None:
        return self._tasks.get(task_id)

    def all(self) -> list[Task[..., Any]]:
        return [self._tasks[k] for k in sorted(self._tasks)]

    def clear(self) -> None:
        self._tasks.clear()

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


#: The registry ``@task`` adds to.
default_registry = Registry()


def import_task_modules(dirs: list[str], root: Path) -> list[str]:
    """Import every ``*.py`` under ``dirs`` (relative to ``root``) as ``dir.module``.

    The project root goes on ``sys.path`` so that task modules can import each other the
    way the project's own code does. Returns the module names imported.
    """
    root = root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    names: list[str] = []
    for directory in dirs:
        base = (root / directory).resolve()
        if not base.is_dir():
            raise ConfigError(f"task directory {directory!r} does not exist under {root}")
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts or path.name.startswith("_"):
                continue
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            importlib.import_module(module)
            names.append(module)
    return names
