"""The SDK reaches the engine through ``outlast.api`` only, even without importing it.

``test_import_directions`` sees imports; an object handed over at run time is invisible to
it. A client bound to a database holds a ``LocalTransport`` whose API object holds an
engine, so SDK code could still walk ``transport.engine.realtime`` or ``.engine.store``.
This test reads every SDK module with ``ast`` and refuses any attribute that names an
engine-side object: the SDK asks the transport (and the API object behind it) instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import outlast

SDK = Path(outlast.__file__).parent / "sdk"
#: attributes that only the engine side has: reading them is reaching past the API layer
ENGINE_SIDE = frozenset({"engine", "store"})


def engine_side_attributes(source: str) -> Iterator[tuple[int, str]]:
    """(line, attribute) of every ``x.engine`` / ``x.store`` in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in ENGINE_SIDE:
            yield node.lineno, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in {"getattr", "setattr", "hasattr"} and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in ENGINE_SIDE):
            yield node.lineno, str(node.args[1].value)


def test_the_scan_sees_engine_attributes() -> None:
    found = sorted(engine_side_attributes(
        "def f(t):\n    t.engine.realtime.chunks()\n    getattr(t, 'store').close()\n"))
    assert found == [(2, "engine"), (3, "store")]


def test_no_sdk_module_reaches_into_the_engine() -> None:
    found = [f"{path.relative_to(SDK.parent)}:{line}: .{attr}"
             for path in sorted(SDK.rglob("*.py"))
             for line, attr in sorted(engine_side_attributes(path.read_text(encoding="utf-8")))]
    assert found == [], "the SDK talks to the transport / outlast.api, not the engine:\n" + \
        "\n".join(found)
