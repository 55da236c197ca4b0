"""Which tasks a process knows, and how task modules are found and imported."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outlast.core.import_failures import ImportFailure
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

    def snapshot(self) -> dict[str, Task[..., Any]]:
        return dict(self._tasks)

    def restore(self, snapshot: dict[str, Task[..., Any]]) -> None:
        """Back to ``snapshot``: a module that failed half way keeps none of its tasks."""
        self._tasks = dict(snapshot)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


#: The registry ``@task`` adds to.
default_registry = Registry()


def import_task_modules(dirs: list[str], root: Path) -> list[str]:
    """Import every ``*.py`` under ``dirs`` (relative to ``root``) as ``dir.module``.

    The project root goes on ``sys.path`` so that task modules can import each other the
    way the project's own code does. Returns the module names imported; the first module
    that fails to import raises.
    """
    names: list[str] = []
    for module, _ in task_files(dirs, root):
        importlib.import_module(module)
        names.append(module)
    return names


_NAMES = re.compile(r"""\bid\s*=\s*["']([^"']+)["']|\bdef\s+(\w+)""")


def import_task_files(dirs: list[str], root: Path,
                      registry: Registry | None = None) -> dict[str, ImportFailure]:
    """Import each task file on its own; the files that failed, by path from ``root``.

    One broken file must not stop the tasks of the others: its error is kept (the worker
    reports it) and the next file is imported. Tasks a failing file registered before it
    failed are taken out again, so a half-run module never serves runs.
    """
    registry = registry or default_registry
    failures: dict[str, ImportFailure] = {}
    for module, path in task_files(dirs, root):
        before = registry.snapshot()
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:
            registry.restore(before)
            failures[path] = import_failure(exc, path)
            failures[path]["names"] = _names_in(root / path)
    return failures


def _names_in(path: Path) -> str:
    """Names a broken file's text mentions: which missing tasks it most likely defines."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return " ".join(sorted({a or b for a, b in _NAMES.findall(text)}))


def import_failure(exc: BaseException, path: str) -> ImportFailure:
    """One line a person can act on (the error, and where when it is not in the message)
    and the whole traceback."""
    line = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, SyntaxError):  # a SyntaxError's message says file and line
        frames = traceback.extract_tb(exc.__traceback__)
        ours = [f for f in frames if not f.filename.startswith("<")] or frames
        if ours:
            where = ours[-1]
            line += f" ({Path(where.filename).name}, line {where.lineno})"
    return {"error": line, "traceback": "".join(traceback.format_exception(exc))[-20_000:]}


def task_files(dirs: list[str], root: Path) -> Iterator[tuple[str, str]]:
    """(module name, path from the root) of each task file, in a stable order."""
    root = root.resolve()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    for directory in dirs:
        base = (root / directory).resolve()
        if not base.is_dir():
            raise ConfigError(f"task directory {directory!r} does not exist under {root}")
        for path in sorted(base.rglob("*.py")):
            if "__pycache__" in path.parts or path.name.startswith("_"):
                continue
            relative = path.relative_to(root)
            yield ".".join(relative.with_suffix("").parts), relative.as_posix()
