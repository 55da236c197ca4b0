"""Load named queries: the shared ``queries.sql`` with the dialect's own versions on top.

Each query starts with a ``-- name: some_name`` line; parameters are written ``:param`` in
both dialects and converted to the driver's style by the store. A query both dialects run
as written lives once, in ``store/queries.sql``; ``<dialect>/queries.sql`` holds only the
queries whose text differs, and its version wins. Comment lines closing a query (the next
section's heading) are not part of it.

A section headed ``-- part: some_name`` is no query but text that queries share: a line
``-- include: some_name`` in a query stands for it (the two claim statements end the same
way, ``claim_started``). A dialect's queries may include the shared file's parts (both
``list_runs`` filter the same way, ``list_runs_filters``), and a part may include another
(every claim returns the same columns, ``claimed_columns``).

A line ending in ``-- when NAME`` is sent only when parameter ``NAME`` is given (not None),
one ending in ``-- unless NAME`` only when it is not. A query with optional filters then
reaches the planner as exactly the filters in use: a planner cannot pick the index for
``(:task IS NULL OR task_id = :task)`` from a plan made before the value is known (SQLite
never folds it; PostgreSQL's generic plans do not).

What the driver gets has no comments and no indentation (``compact``). The comments are
for readers of the ``.sql`` files; sent, they only cost: psycopg caches its parse of a
query only up to 4 KB of text, and the claim statements were over that with theirs, so
each claim parsed its whole text again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any

_HEADER = re.compile(r"^--\s*(name|part):\s*(\w+)\s*$", re.MULTILINE)
_INCLUDE = re.compile(r"^\s*--\s*include:\s*(\w+)\s*$", re.MULTILINE)
_WHEN = re.compile(r"^(.*?)\s*--\s*(when|unless)\s+(\w+)\s*$")
#: a line's comment: ``--`` to the end of the line, outside any string literal
_COMMENT = re.compile(r"^((?:[^'-]|'[^']*'|-(?!-))*)--.*$")


class QueryBook:
    """A dialect's named queries as the driver takes them, optional lines resolved.

    ``convert`` turns a query into the driver's parameter style, once per shape, on its
    first use: a process sends a few dozen of the hundreds of queries (a worker's start
    waited for them all to be converted).
    """

    def __init__(self, queries: Mapping[str, str],
                 convert: Callable[[str], str] = lambda sql: sql) -> None:
        self._queries = queries
        self._convert = convert
        #: queries without optional lines, converted
        self._plain: dict[str, str] = {}
        #: queries with optional lines: each line, its condition and the value it needs
        self._optional: dict[str, list[tuple[str, str, bool | None]]] = {}
        #: each optional query's condition names, once each: a shape is told by which
        #: of them are given, however many lines each one governs
        self._conditions: dict[str, tuple[str, ...]] = {}
        self._shapes: dict[tuple[str, tuple[bool, ...]], str] = {}

    def text(self, name: str, params: Mapping[str, Any]) -> str:
        """The query ``name`` with the optional lines whose parameter is given."""
        plain = self._plain.get(name)
        if plain is not None:
            return plain
        conditions = self._conditions.get(name)
        if conditions is None:  # its first use
            sql = self._queries[name]
            if not _conditions(sql):
                plain = self._plain[name] = self._convert(compact(sql))
                return plain
            lines = self._optional[name] = _split(sql)
            conditions = self._conditions[name] = tuple(dict.fromkeys(
                when for _, when, wanted in lines if wanted is not None))
        key = (name, tuple([params.get(when) is not None for when in conditions]))
        shape = self._shapes.get(key)
        if shape is None:
            given = dict(zip(conditions, key[1], strict=True))
            kept = [line for line, when, wanted in self._optional[name]
                    if wanted is None or given[when] == wanted]
            shape = self._shapes[key] = self._convert(compact("\n".join(kept)))
        return shape


def compact(sql: str) -> str:
    """``sql`` without its comments, indentation and blank lines (the same statement)."""
    lines = (_COMMENT.sub(r"\1", line).strip() for line in sql.splitlines())
    return "\n".join(line for line in lines if line)


def _conditions(sql: str) -> bool:
    return any(_WHEN.match(line) for line in sql.splitlines())


def _split(sql: str) -> list[tuple[str, str, bool | None]]:
    """(line, its parameter, whether it needs that given) for each line of ``sql``; the
    last is None for a line always sent."""
    out: list[tuple[str, str, bool | None]] = []
    for line in sql.splitlines():
        match = _WHEN.match(line)
        out.append((match.group(1), match.group(3), match.group(2) == "when") if match
                   else (line, "", None))
    return out


@cache
def load_queries(dialect: str) -> dict[str, str]:
    """Every named query of ``dialect``: the shared ones, then its own over them."""
    return shared_queries() | dialect_queries(dialect)


def shared_queries() -> dict[str, str]:
    return _resolved(*_shared_sections())


def dialect_queries(dialect: str) -> dict[str, str]:
    """The queries ``dialect`` writes its own way (its overrides of the shared file); they
    may include the shared file's parts."""
    folder = resources.files("outlast.store").joinpath(dialect)
    return parse_dialect_queries(folder.joinpath("queries.sql").read_text())


def parse_dialect_queries(text: str) -> dict[str, str]:
    """The queries of a dialect's ``.sql`` file (``dialect_queries``), given as text: its
    includes may name the shared file's parts as well as its own (a benchmark reads
    another checkout's file this way)."""
    queries, parts = _sections(text)
    return _resolved(queries, _shared_sections()[1] | parts)


@cache
def _shared_sections() -> tuple[dict[str, str], dict[str, str]]:
    """The shared file's queries and parts (``_sections``), read once: both the shared
    queries and each dialect's include its parts. Never changed by their readers."""
    text = resources.files("outlast.store").joinpath("queries.sql").read_text()
    return _sections(text)


def parse_queries(text: str) -> dict[str, str]:
    """The queries of one ``.sql`` file, by name, each with its ``include`` lines replaced
    by the parts they name."""
    return _resolved(*_sections(text))


def _sections(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """The queries of one ``.sql`` file as written, and its parts (closing comments gone)."""
    sections: dict[str, dict[str, str]] = {"name": {}, "part": {}}
    matches = list(_HEADER.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        kind, name = match.groups()
        if name in sections[kind]:
            raise ValueError(f"{'query' if kind == 'name' else 'part'} {name!r} defined twice")
        sections[kind][name] = text[match.end() : end]
    parts = {name: _without_closing_comments(body) for name, body in sections["part"].items()}
    return sections["name"], parts


def _resolved(queries: Mapping[str, str], parts: Mapping[str, str]) -> dict[str, str]:
    """Each query with its ``include`` lines replaced (before its closing comments go: an
    include may end it)."""
    return {name: _without_closing_comments(
                _INCLUDE.sub(lambda m: _part(parts, m.group(1)), body))
            for name, body in queries.items()}


def _part(parts: Mapping[str, str], name: str, within: tuple[str, ...] = ()) -> str:
    """The part ``name``, its own includes replaced (``claim_started`` returns the
    shared ``claimed_columns``)."""
    if name not in parts:
        raise ValueError(f"include of an unknown part {name!r}")
    if name in within:
        raise ValueError(f"part {name!r} includes itself")
    return _INCLUDE.sub(lambda m: _part(parts, m.group(1), (*within, name)), parts[name])


def _without_closing_comments(body: str) -> str:
    """``body`` without the comment lines that end it (an ``include`` line is no comment:
    a part may end with one)."""
    lines = body.strip().splitlines()
    while lines and lines[-1].lstrip().startswith("--") and not _INCLUDE.match(lines[-1]):
        lines.pop()
    return "\n".join(lines).strip()


def migration_files(dialect: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration of ``dialect`` in order."""
    folder = resources.files("outlast.store").joinpath(dialect, "migrations")
    return [(name, folder.joinpath(name).read_text()) for name in migration_names(dialect)]


def migration_names(dialect: str) -> list[str]:
    """The name of every migration of ``dialect`` in order (their files are not read)."""
    folder = resources.files("outlast.store").joinpath(dialect, "migrations")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
