"""Load named queries: the shared ``queries.sql`` with the dialect's own versions on top.

Each query starts with a ``-- name: some_name`` line; parameters are written ``:param`` in
both dialects and converted to the driver's style by the store. A query both dialects run
as written lives once, in ``store/queries.sql``; ``<dialect>/queries.sql`` holds only the
queries whose text differs, and its version wins. Comment lines closing a query (the next
section's heading) are not part of it.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """Every named query of ``dialect``: the shared ones, then its own over them."""
    return shared_queries() | dialect_queries(dialect)


def shared_queries() -> dict[str, str]:
    return parse_queries(resources.files("outlast.store").joinpath("queries.sql").read_text())


def dialect_queries(dialect: str) -> dict[str, str]:
    """The queries ``dialect`` writes its own way (its overrides of the shared file)."""
    folder = resources.files("outlast.store").joinpath(dialect)
    return parse_queries(folder.joinpath("queries.sql").read_text())


def parse_queries(text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = _without_closing_comments(text[match.end() : end])
        if match.group(1) in queries:
            raise ValueError(f"query {match.group(1)!r} defined twice")
        queries[match.group(1)] = body
    return queries


def _without_closing_comments(body: str) -> str:
    lines = body.strip().splitlines()
    while lines and lines[-1].lstrip().startswith("--"):
        lines.pop()
    return "\n".join(lines).strip()


def migration_files(dialect: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration of ``dialect`` in order."""
    folder = resources.files("outlast.store").joinpath(dialect, "migrations")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, folder.joinpath(name).read_text()) for name in names]
