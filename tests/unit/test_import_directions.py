"""Layers point one way: which part of ``outlast`` may import which.

Every import in ``src/outlast`` is read with ``ast``, including those inside functions and
under ``TYPE_CHECKING``: a late import is still a dependency, and a type-only one still
ties one layer to another. Each module belongs to the layer named by its first part under
``outlast`` (``outlast.engine.flow`` is ``engine``; ``outlast.config`` is ``config``).

From the bottom up::

    base      errors clock ids inputs jsonutil durations machines observability readiness
    core      what the SDK and the engine share: options, retry, debounce, definitions,
              cron, limits (records and pure checks)
    store     the two dialects behind one protocol
    config    settings read from files and the environment
    engine    runs, over a store
    upkeep    time-driven work of the leader, over the engine
    api       the handler table, served over HTTP and dispatched in process
    sdk       what task code and app code import (``import outlast``)
    worker    supervisor and children: runs task code, calls the engine
    server    HTTP, realtime, dashboard
    outlast   the public facade (``outlast/__init__.py``)
    cli, testing  anything

The SDK never imports the engine, the store or the server; it reaches the engine only
through ``api``, and only inside a function, so that ``import outlast`` loads neither
(``test_import_outlast_loads_no_engine_store_or_server``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import outlast

SRC = Path(outlast.__file__).parent

BASE = frozenset({"errors", "clock", "ids", "inputs", "jsonutil", "durations", "machines",
                  "observability", "readiness"})
#: the layers each layer may import, beside itself and ``BASE``
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "store": frozenset(),
    "config": frozenset({"core"}),
    "engine": frozenset({"core", "store", "config"}),
    "upkeep": frozenset({"core", "store", "engine"}),
    "api": frozenset({"core", "store", "engine"}),
    "sdk": frozenset({"core", "api"}),
    "worker": frozenset({"core", "store", "engine", "upkeep", "sdk", "outlast"}),
    "server": frozenset({"core", "store", "config", "engine", "upkeep", "api", "sdk",
                         "outlast"}),
    "outlast": frozenset({"core", "sdk"}),
}
#: glue on top of everything: the command line, the test harness, framework integrations
ANYTHING = ("cli", "testing", "integrations")
#: (importer, imported) edges allowed only inside a function, never at module level
LATE_ONLY = frozenset({("sdk", "api")})
#: user code shipped as a template, not part of the package's layers
SKIP = ("cli/templates",)


def layer_of(module: str) -> str:
    """``outlast.engine.flow`` → ``engine``; ``outlast`` → ``outlast``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "outlast"


def module_name(path: Path) -> str:
    parts = ["outlast", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The ``outlast`` modules an import statement names (``from outlast import inputs``
    names ``outlast.inputs``; ``from outlast import __version__`` names ``outlast``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "outlast"]
    base = node.module or ""
    if node.level:  # relative: from the package, then up one per extra dot
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, *([base] if base else [])])
    if base.split(".")[0] != "outlast":
        return []
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        found = (SRC.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
            SRC.parent / sub.replace(".", "/")).is_dir()
        out.append(sub if found else base)
    return out


def top_level_nodes(tree: ast.Module) -> set[ast.AST]:
    """Imports that run when the module is imported: all but those inside a function.
    ``if TYPE_CHECKING`` blocks count as module level."""
    nodes: set[ast.AST] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        nodes.add(node)
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def edges() -> Iterator[tuple[str, str, str, bool]]:
    """(importer layer, imported layer, where, at module level) for each cross-layer import."""
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(SKIP):
            continue
        module = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        eager = top_level_nodes(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in imported(node, module, path.name == "__init__.py"):
                source, dest = layer_of(module), layer_of(target)
                if source != dest:
                    yield source, dest, f"{rel}:{node.lineno} imports {target}", node in eager


def forbidden(source: str, dest: str, eager: bool) -> str | None:
    """Why ``source`` may not import ``dest`` (None when it may)."""
    if source in ANYTHING or dest in BASE:
        return None
    if source in BASE:
        return "base modules import only other base modules"
    if source not in ALLOWED:
        return f"{source!r} has no place in the layer table: add it to ALLOWED"
    if dest not in ALLOWED[source]:
        return f"{source} may not import {dest}"
    if eager and (source, dest) in LATE_ONLY:
        return f"{source} may import {dest} only inside a function"
    return None


def test_every_import_points_down() -> None:
    wrong = sorted(f"{where}: {why}" for source, dest, where, eager in edges()
                   if (why := forbidden(source, dest, eager)) is not None)
    assert not wrong, "\n".join(wrong)


def test_the_layer_table_has_no_cycle() -> None:
    """Allowed edges alone must order the layers, or 'one way' means nothing."""
    done: set[str] = set()

    def visit(layer: str, path: tuple[str, ...]) -> None:
        assert layer not in path, f"cycle: {' -> '.join((*path, layer))}"
        if layer in done:
            return
        for dest in ALLOWED.get(layer, frozenset()):
            visit(dest, (*path, layer))
        done.add(layer)

    for layer in ALLOWED:
        visit(layer, ())


@pytest.mark.parametrize(("source", "dest", "eager", "allowed"), [
    ("sdk", "engine", False, False),
    ("sdk", "server", False, False),
    ("sdk", "store", False, False),
    ("sdk", "api", True, False),
    ("sdk", "api", False, True),
    ("worker", "server", False, False),
    ("engine", "sdk", False, False),
    ("engine", "server", False, False),
    ("core", "engine", False, False),
    ("api", "server", False, False),
    ("api", "sdk", False, False),
    ("errors", "core", True, False),
    ("newpackage", "core", True, False),
    ("server", "api", True, True),
    ("cli", "server", True, True),
])
def test_the_rules_refuse_what_they_should(source: str, dest: str, eager: bool,
                                           allowed: bool) -> None:
    assert (forbidden(source, dest, eager) is None) == allowed


def test_imports_are_read_inside_functions_too() -> None:
    found = {(s, d) for s, d, _, eager in edges() if not eager}
    assert ("sdk", "api") in found  # LocalTransport and Client(database_url=) load it late


def test_import_outlast_loads_no_engine_store_or_server() -> None:
    code = ("import sys; from outlast import *; "
            "print('\\n'.join(m for m in sys.modules if m.startswith('outlast')))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    assert "outlast.sdk.client" in loaded  # the probe sees what it should
    heavy = ("engine", "store", "server", "worker", "upkeep", "api", "cli")
    assert [m for m in loaded if layer_of(m) in heavy] == []
