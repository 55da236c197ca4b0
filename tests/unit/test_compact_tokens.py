"""``store.queries.compact`` sends every shape of every query of both dialects
as the same statement: the same tokens once comments and whitespace are set aside, by a
tokenizer that knows literals ('' escapes, E'' strings), quoted identifiers, dollar
quotes and block comments.

It guards the line-by-line comment regex against a later query with a
literal spanning lines, an ``E'\\''`` escape or a dollar quote, which it would corrupt."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import pytest

from outlast.store.queries import _conditions, _split, compact, load_queries

_PLAIN = re.compile(r"[A-Za-z_0-9.]+|::|->>|->|#>>|#>|<=|>=|<>|!=|\|\||.")


def _quoted(sql: str, i: int, backslash: bool) -> int:
    """The index just past the literal opening at ``i`` (its quote)."""
    j = i + 1
    while True:
        if (backslash and sql[j] == "\\") or sql[j : j + 2] == "''":
            j += 2
        elif sql[j] == "'":
            return j + 1
        else:
            j += 1


def _token(sql: str, i: int) -> tuple[str | None, int]:
    """The token at ``i`` (None for a comment) and where the next one may start."""
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return None, len(sql) if end < 0 else end
    if sql.startswith("/*", i):
        end = sql.index("*/", i + 2) + 2
    elif sql[i] in "eE" and sql[i + 1 : i + 2] == "'":
        end = _quoted(sql, i + 1, backslash=True)
    elif sql[i] == "'":
        end = _quoted(sql, i, backslash=False)
    elif sql[i] == '"':
        end = sql.index('"', i + 1) + 1
    elif (dollar := re.match(r"\$[A-Za-z_]*\$", sql[i:])) is not None:
        end = sql.index(dollar.group(0), i + len(dollar.group(0))) + len(dollar.group(0))
    else:
        plain = _PLAIN.match(sql, i)
        assert plain is not None
        end = plain.end()
    return sql[i:end], end


def tokens(sql: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(sql):
        if sql[i].isspace():
            i += 1
            continue
        token, i = _token(sql, i)
        if token is not None:
            out.append(token)
    return out


def shapes(raw: str) -> Iterator[str]:
    """Every text the query book may build from ``raw`` (each set of optional lines)."""
    if not _conditions(raw):
        yield raw
        return
    lines = _split(raw)
    names = sorted({when for _, when, wanted in lines if wanted is not None})
    every = itertools.product([False, True], repeat=len(names)) if len(names) <= 8 else \
        [tuple(n == k for n in range(len(names))) for k in range(-1, len(names))] + \
        [tuple(n != k for n in range(len(names))) for k in range(-1, len(names))]
    for given in every:
        kept = dict(zip(names, given, strict=True))
        yield "\n".join(line for line, when, wanted in lines
                        if wanted is None or kept[when] == wanted)


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_every_compacted_shape_is_the_same_statement(dialect: str) -> None:
    changed = [name for name, raw in load_queries(dialect).items() for text in shapes(raw)
               if tokens(text) != tokens(compact(text))]
    assert changed == []


def test_the_tokenizer_sees_what_compact_cannot() -> None:
    """What the per-line regex would get wrong, were a query to hold it."""
    multiline = "SELECT 'a\n  -- not a comment\n' AS x"
    assert tokens(compact(multiline)) != tokens(multiline)
