"""List parameters sent as PostgreSQL array literals: ``'{a,b,c}'`` instead of psycopg's
adaptation of each element.

psycopg dumps a list element by element through Python: about 0.2 us per text element
in binary, 1 us per float (a batch completion's ``executed`` and ``costs``, a bulk
trigger's thousand ids and statuses). A parameter that the statement casts to an array
type wherever it uses it (``:ids::text[]``, ``:costs::float8[]``) can travel as one text
instead: the server's cast reads the literal (``array_in``), and writing it is a join of
the elements, quoted only where the literal's syntax needs it. A list this module cannot
write exactly (an element of another type, a text holding a NUL) is left to psycopg.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

#: ``%(name)s::type[]`` in a statement in psycopg's style (``to_pyformat``)
_CAST_USE = re.compile(r"%\((\w+)\)s::(\w+(?: precision)?)\[\]")
_USE = re.compile(r"%\((\w+)\)s")
#: what each array type's elements may be: text, or numbers written as Python writes them
_TEXT_TYPES = frozenset({"text", "varchar"})
_INT_TYPES = frozenset({"int", "integer", "int4", "int8", "bigint", "smallint", "int2"})
_FLOAT_TYPES = frozenset({"float8", "double precision", "float4", "real"})


@functools.lru_cache(maxsize=512)
def literal_params(sql: str) -> tuple[tuple[str, str], ...]:
    """The parameters of ``sql`` cast to one kind of array at every use, with that kind
    (``text``, ``int`` or ``float``): those a list may be sent for as a literal."""
    casts: dict[str, set[str]] = {}
    cast_uses: dict[str, int] = {}
    for name, type_name in _CAST_USE.findall(sql):
        casts.setdefault(name, set()).add(type_name.lower())
        cast_uses[name] = cast_uses.get(name, 0) + 1
    uses: dict[str, int] = {}
    for name in _USE.findall(sql):
        uses[name] = uses.get(name, 0) + 1
    return tuple((name, kind) for name, types in casts.items()
                 if uses[name] == cast_uses[name] and (kind := _kind(types)) is not None)


def _kind(types: set[str]) -> str | None:
    if types <= _TEXT_TYPES:
        return "text"
    if types <= _INT_TYPES:
        return "int"
    if types <= _FLOAT_TYPES:
        return "float"
    return None


def with_literals(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each list that ``sql`` casts to an array type written as that
    array's literal (``literal``); ``params`` itself when there is none."""
    out: dict[str, Any] | None = None
    for name, kind in literal_params(sql):
        values = params.get(name)
        if type(values) is not list:
            continue
        text = literal(values, kind)
        if text is not None:
            if out is None:
                out = dict(params)
            out[name] = text
    return params if out is None else out


def literal(values: list[Any], kind: str) -> str | None:
    """``values`` as an array literal of ``kind`` (``text``, ``int``, ``float``), or None
    when an element is not one this writes exactly (psycopg adapts the list instead)."""
    if kind == "text":
        return _text_literal(values)
    return _number_literal(values, floats=kind == "float")


def _text_literal(values: list[Any]) -> str | None:
    try:
        joined = ",".join(values)
    except TypeError:  # a None (NULL) or an element that is not a text
        joined = None
    if joined is not None:
        if "\x00" in joined:
            return None  # psycopg refuses a NUL, as the server does
        if joined.count(",") == len(values) - 1 and _bare(joined):
            return "{" + joined + "}"
    elif not all(v is None or isinstance(v, str) for v in values) \
            or any("\x00" in v for v in values if v is not None):
        return None
    return "{" + ",".join(map(_quoted, values)) + "}"


def _bare(joined: str) -> bool:
    """Whether elements joined by commas (none holding one) may go unquoted: none holds
    a quote, a brace, a backslash or a space, none is empty and none reads as NULL (ids
    and statuses). A scan per character, each in C: a regular expression over a thousand
    ids took 0.7 ms, longer than psycopg's binary array."""
    return (bool(joined) and not any(c in joined for c in _SPECIAL)
            and ",," not in joined and joined[0] != "," and joined[-1] != ","
            and "null" not in joined.lower())


def _quoted(value: str | None) -> str:
    if value is None:
        return "NULL"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: what an unquoted element may not hold (``array_in``: quotes, braces, the escape, the
#: spaces it trims)
_SPECIAL = ('"', "\\", "{", "}", " ", "\t", "\n", "\r", "\v", "\f")


def _number_literal(values: list[Any], *, floats: bool) -> str | None:
    kinds = set(map(type, values))
    if kinds <= ({int, float} if floats else {int}):
        joined = ",".join(map(repr, values))
        if "n" not in joined:  # no inf or nan, which PostgreSQL spells otherwise
            return "{" + joined + "}"
    elif not kinds <= ({int, float, type(None)} if floats else {int, type(None)}):
        return None  # a bool, a Decimal, ...: psycopg's
    return "{" + ",".join(map(_number, values)) + "}"


def _number(value: int | float | None) -> str:
    if value is None:
        return "NULL"
    return repr(value) if math.isfinite(value) else _NOT_FINITE[repr(value)]


_NOT_FINITE = {"inf": "Infinity", "-inf": "-Infinity", "nan": "NaN"}
