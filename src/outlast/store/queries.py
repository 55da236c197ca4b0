"""Load named queries from a ``queries.sql`` file.

Each query starts with a ``-- name: some_name`` line; parameters are written
``:param`` in both dialects and converted to the driver's style by the store.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


@cache
def load_queries(dialect: str) -> dict[str, str]:
    text = resources.files("outlast.store").joinpath(dialect, "queries.sql").read_text()
    return parse_queries(text)


def parse_queries(text: str) -> dict[str, str]:
    queries: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        if match.group(1) in queries:
            raise ValueError(f"query {match.group(1)!r} defined twice")
        queries[match.group(1)] = body
    return queries


def migration_files(dialect: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration of ``dialect`` in order."""
    folder = resources.files("outlast.store").joinpath(dialect, "migrations")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, folder.joinpath(name).read_text()) for name in names]
