"""The error tree drawn in ``outlast.errors``' docstring is the real one: every error class,
its parent, its code and its HTTP status, so the drawing cannot drift from the code."""

from __future__ import annotations

import re

import outlast.errors
import outlast.sdk.durable
import outlast.worker.supervisor  # noqa: F401 - defines WorkerFailed
from outlast.errors import ApiError, OutlastError

LINE = re.compile(r"^ {4}([│ ]*)([├└]── )?(\w+)\s+(\S+)\s+(\S+)", re.M)


def drawn() -> dict[str, tuple[str | None, str, str]]:
    """name → (parent, code, HTTP) as the docstring draws them."""
    tree: dict[str, tuple[str | None, str, str]] = {}
    parents: list[str] = []
    for indent, branch, name, code, status in LINE.findall(outlast.errors.__doc__ or ""):
        if not branch and name != "OutlastError":
            continue  # prose under the tree
        depth = len(indent) // 4 + bool(branch)
        parents[depth:] = [name]
        tree[name] = (parents[depth - 1] if depth else None, code, status)
    return tree


def every_error(root: type[OutlastError] = OutlastError) -> list[type[OutlastError]]:
    found: list[type[OutlastError]] = [root]
    for sub in root.__subclasses__():
        if sub.__module__.startswith("outlast."):
            found += every_error(sub)
    return found


def test_the_drawn_tree_names_every_error_with_its_parent_code_and_status() -> None:
    tree = drawn()
    assert tree.pop("OutlastError")[0] is None  # the root, over the column titles
    errors = every_error()[1:]
    for cls in errors:
        if cls is ApiError:  # its code and status are the server's
            continue
        status = "-" if cls.http_status == 500 else str(cls.http_status)
        assert tree.get(cls.__name__) == (cls.__base__.__name__, cls.code, status), cls
    assert set(tree) == {cls.__name__ for cls in errors}
