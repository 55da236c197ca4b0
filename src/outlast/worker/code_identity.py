"""Which files are the project's code: the input of a worker's version.

A worker's version (``outlast.core.versions.code_version``) is a hash of the project files
its task imports loaded, so two workers started from one release agree on it without being
told, and any edit to a task or to a module it imports gives a new one. Only what was
imported counts (a README or a test file changes nothing a run executes), and only files
of the project itself: Outlast and installed libraries are not the project's code, and a
virtualenv inside the project must not make two machines disagree.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType

import outlast
from outlast.core.versions import code_version

#: directories that hold installed packages, wherever they are
_INSTALLED = frozenset({"site-packages", "dist-packages"})
_OUTLAST = Path(outlast.__file__).resolve().parent
_OUTLAST_TEXT = str(_OUTLAST)


def project_files(root: Path, modules: Iterable[ModuleType] | None = None
                  ) -> list[tuple[str, bytes]]:
    """(path relative to ``root``, contents) of each loaded module that is project code.

    ``modules``: those to look at (default: every module imported in this process).
    """
    root = root.resolve()
    files: dict[str, bytes] = {}
    for module in list(sys.modules.values()) if modules is None else modules:
        path = _module_file(module)
        if path is None or not _is_project_file(path, root):
            continue
        try:
            files[path.relative_to(root).as_posix()] = path.read_bytes()
        except OSError:  # gone since it was imported: nothing to hash
            continue
    return sorted(files.items())


def project_version(root: Path) -> str:
    """The version of the project code loaded in this process (after the task imports)."""
    return code_version(project_files(root))


def remember_loaded() -> None:
    """Resolve the files of the modules loaded now, once: the fork server calls it after
    its imports, so each child it forks resolves only the files of its task imports (a
    few dozen) rather than of every module loaded (hundreds, ~20 ms of system calls)."""
    for module in list(sys.modules.values()):
        _module_file(module)


def _module_file(module: ModuleType) -> Path | None:
    name = getattr(module, "__file__", None)
    if not isinstance(name, str) or not name:
        return None
    return _resolved(name)


@cache
def _resolved(name: str) -> Path | None:
    """``Path(name).resolve()``, with the folder resolved once for every file in it: the
    fork server resolves hundreds of files in a few dozen folders."""
    try:
        if os.path.islink(name):
            return Path(name).resolve()
        folder, file = os.path.split(name)
        return _resolved_folder(folder) / file
    except OSError:
        return None


@cache
def _resolved_folder(folder: str) -> Path:
    return Path(folder).resolve()


def _is_project_file(path: Path, root: Path) -> bool:
    # paths as text: ``Path.is_relative_to`` parses both paths anew for every one of the
    # hundreds of modules a child has loaded (2 ms of each child's start)
    if not _inside(str(path), str(root)) or _inside(str(path), _OUTLAST_TEXT):
        return False
    inside = path.relative_to(root).parts[:-1]
    if _INSTALLED.intersection(inside):
        return False
    return not any(_is_virtualenv(root.joinpath(*inside[:i + 1])) for i in range(len(inside)))


def _inside(path: str, folder: str) -> bool:
    """``path`` is ``folder`` or below it (both absolute and resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


@cache
def _is_virtualenv(directory: Path) -> bool:
    """A virtualenv holds a ``pyvenv.cfg`` at its top."""
    return (directory / "pyvenv.cfg").is_file()
