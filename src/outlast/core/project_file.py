"""Finding and reading the project's file: ``outlast.toml``, or ``[tool.outlast]`` in
``pyproject.toml``.

The file is searched from the working directory upward, like git finds its repository.
It lives in ``core`` rather than ``config`` because processes that never load the whole
configuration still read one table of it: an in-process client must put large values in
the blob store the project's workers read (``core.settings.project_settings``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from outlast.errors import ConfigError

CONFIG_FILE = "outlast.toml"
PYPROJECT = "pyproject.toml"


def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest ``outlast.toml``, or ``pyproject.toml`` with ``[tool.outlast]``."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / CONFIG_FILE
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and "outlast" in read_toml(pyproject).get("tool", {}):
            return pyproject
    return None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def project_table(path: Path) -> dict[str, Any]:
    """The project's settings in ``path``: the whole file, or ``[tool.outlast]``."""
    data = read_toml(path)
    if path.name == PYPROJECT:
        data = data.get("tool", {}).get("outlast", {})
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: [tool.outlast] must be a table")
    return data
